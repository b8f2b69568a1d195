"""``python -m services.reporting``: reports and notes — the projection of their events into
MongoDB and the gRPC API the gateway reads them through."""

from __future__ import annotations

import asyncio

from tracklane_proto import reporting_pb2_grpc

from services.common import bus, log, replay, runtime
from services.common.projections import REGISTRY
from services.reporting.grpc_api import ReportingApi
from services.reporting.projection import ReportingProjection
from services.reporting.settings import Settings
from services.reporting.store import ReportStore


async def main() -> None:
    settings = Settings.from_env()
    log.configure("reporting", settings.common.log_level, settings.common.log_format)
    store = ReportStore(settings.mongodb_url.reveal(), settings.database)
    await store.migrate()
    nc, js = await bus.connect(settings.common.nats_url, "reporting")
    await bus.ensure_stream(js, settings.common.nats_replicas)
    projection = ReportingProjection(store)
    archive = replay.ArtifactArchive(settings.common.artifact_addr)
    consumer = replay.Consumer(
        js,
        REGISTRY["reporting"],
        projection.handle,
        store.reset,
        archive,
        replicas=settings.common.nats_replicas,
        lease_s=settings.common.replay_lease_s,
        feed_events=settings.common.replay_batch,
    )

    async def close() -> None:
        await nc.drain()
        await archive.close()
        await store.close()

    await runtime.run(
        runtime.Service(
            name="tracklane.v1.ReportingService",
            grpc_addr=settings.common.reporting_addr,
            prometheus_port=settings.prometheus_port,
            register=lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(
                ReportingApi(store), server
            ),
            background=[consumer.run],
            close=close,
            grace=settings.common.shutdown_grace,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
