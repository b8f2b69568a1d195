"""``python -m services.artifact``: object storage for artifacts, models and debug samples:
presigned upload/download, previews and audit records over gRPC; the file-event projection
(audit, debug-sample retention, clearing); the archive of the event log (:mod:`.archive`); and
the embedded store's signed links over HTTP."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn
from tracklane_proto import artifact_pb2_grpc

from services.artifact import archive, http
from services.artifact.grpc_api import ArtifactApi
from services.artifact.projection import FileProjection
from services.artifact.settings import Settings
from services.artifact.store import FileObjectStore, open_store
from services.common import bus, log, runtime
from services.common.projections import REGISTRY


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
    nc, js = await bus.connect(settings.common.nats_url, "artifact")
    await bus.ensure_stream(js, settings.common.nats_replicas)
    projection = FileProjection(store, settings.common.debug_sample_retention)
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = [
        functools.partial(bus.consume, js, REGISTRY["artifact"], projection.handle),
        functools.partial(archive.run, js, store, flush_s=settings.archive_flush_s),
    ]
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
            register=lambda server: artifact_pb2_grpc.add_ArtifactServiceServicer_to_server(ArtifactApi(store), server),
            background=background,
            close=nc.drain,
            grace=settings.common.shutdown_grace,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
