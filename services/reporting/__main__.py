"""``python -m services.reporting``: reports (markdown with live embeds) come in a later issue;
today the process runs with health checks, metrics and graceful shutdown like every service."""

from __future__ import annotations

import asyncio

from services.common import log, runtime
from services.reporting.settings import Settings


async def main() -> None:
    settings = Settings.from_env()
    log.configure("reporting", settings.common.log_level, settings.common.log_format)
    await runtime.run(
        runtime.Service(
            name="tracklane.v1.ReportingService",
            grpc_addr=settings.common.reporting_addr,
            prometheus_port=settings.prometheus_port,
            register=lambda server: None,
            grace=settings.common.shutdown_grace,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
