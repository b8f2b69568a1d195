"""``python -m gateway``: serve the HTTP API with uvicorn."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import Settings
from services.common import log


def main() -> None:
    settings = Settings.from_env()
    log.configure("gateway", settings.common.log_level, settings.common.log_format)
    host, _, port = settings.common.gateway_addr.rpartition(":")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=int(port),
        log_level="warning",
        timeout_graceful_shutdown=int(settings.common.shutdown_grace),
    )


if __name__ == "__main__":
    main()
