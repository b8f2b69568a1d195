"""``python -m services.artifact``: object storage for artifacts, models and debug samples."""

from __future__ import annotations

import asyncio

from services.artifact.settings import Settings
from services.common import log, runtime


async def main() -> None:
    settings = Settings.from_env()
    log.configure("artifact", settings.common.log_level, settings.common.log_format)
    await runtime.run(
        runtime.Service(
            name="tracklane.v1.ArtifactService",
            grpc_addr=settings.common.artifact_addr,
            prometheus_port=settings.prometheus_port,
            register=lambda server: None,
            grace=settings.common.shutdown_grace,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
