"""``python -m services.artifact``: object storage for artifacts, models and debug samples.

Its gRPC API (presigned upload/download, data-audit records, retention) arrives with the SDK
issue; today it opens the configured store and serves the embedded store's signed links."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn

from services.artifact import http
from services.artifact.settings import Settings
from services.artifact.store import FileObjectStore, open_store
from services.common import log, runtime


class _EmbeddedServer(uvicorn.Server):
    def capture_signals(self) -> Any:  # the service's runtime owns SIGTERM/SIGINT
        import contextlib

        return contextlib.nullcontext()


async def main() -> None:
    settings = Settings.from_env()
    logger = log.configure("artifact", settings.common.log_level, settings.common.log_format)
    store = await asyncio.to_thread(
        open_store,
        settings.common.data_dir,
        settings.s3_url,
        settings.s3_bucket,
        settings.s3_access_key.reveal(),
        settings.s3_secret_key.reveal(),
        settings.signing_key.reveal().encode(),
        settings.public_url,
    )
    logger.info("artifact.store", backend="s3" if settings.s3_url else "embedded")
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
    if isinstance(store, FileObjectStore):
        host, _, port = settings.http_addr.rpartition(":")
        server = _EmbeddedServer(uvicorn.Config(http.create_app(store), host=host, port=int(port), log_level="warning"))

        async def serve_links(stopping: asyncio.Event) -> None:
            task = asyncio.create_task(server.serve())
            await stopping.wait()
            server.should_exit = True
            await task

        background.append(serve_links)
    await runtime.run(
        runtime.Service(
            name="tracklane.v1.ArtifactService",
            grpc_addr=settings.common.artifact_addr,
            prometheus_port=settings.prometheus_port,
            register=lambda server: None,
            background=background,
            grace=settings.common.shutdown_grace,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
