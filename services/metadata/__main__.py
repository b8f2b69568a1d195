"""``python -m services.metadata``: the MongoDB projection (and the experiment table index), its query
API and key checks."""

from __future__ import annotations

import asyncio
import functools

from tracklane_proto import metadata_pb2_grpc

from services.common import bus, log, replay, runtime
from services.common.auth import hash_api_key
from services.common.projections import REGISTRY
from services.metadata import reaper
from services.metadata.grpc_api import MetadataApi
from services.metadata.projection import MetadataProjection
from services.metadata.settings import Settings
from services.metadata.store import MongoMetadataStore
from services.metadata.table import ExperimentTable


async def main() -> None:
    settings = Settings.from_env()
    logger = log.configure("metadata", settings.common.log_level, settings.common.log_format)
    table = ExperimentTable(settings.table_url, cluster=settings.clickhouse_cluster)
    store = MongoMetadataStore(settings.mongodb_url.reveal(), settings.database, table)
    applied = await store.migrate()
    logger.info("metadata.migrated", applied=applied)
    rebuilt = await store.sync_table(lambda done, of: logger.info("metadata.table_rebuilding", experiments=done, of=of))
    logger.info("metadata.table", clickhouse="chdb (embedded)" if table.is_embedded else "server", rebuilt=rebuilt)

    async def bootstrap_key() -> None:  # configuration, not an event: applied at each start and reset
        if settings.bootstrap_api_key:
            await store.ensure_key(
                hash_api_key(settings.bootstrap_api_key.reveal()), settings.default_workspace, "admin"
            )

    await bootstrap_key()
    nc, js = await bus.connect(settings.common.nats_url, "metadata")
    await bus.ensure_stream(js, settings.common.nats_replicas)
    projection = MetadataProjection(store)
    archive = replay.ArtifactArchive(settings.common.artifact_addr)

    async def reset() -> None:
        await store.reset()
        await bootstrap_key()

    consumer = replay.Consumer(
        js,
        REGISTRY["metadata"],
        projection.handle,
        reset,
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
            name="tracklane.v1.MetadataService",
            grpc_addr=settings.common.metadata_addr,
            prometheus_port=settings.prometheus_port,
            register=lambda server: metadata_pb2_grpc.add_MetadataServiceServicer_to_server(MetadataApi(store), server),
            background=[
                consumer.run,
                functools.partial(
                    reaper.reap, store, js, settings.heartbeat_timeout, paused=lambda: consumer.rebuilding
                ),
            ],
            close=close,
            grace=settings.common.shutdown_grace,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
