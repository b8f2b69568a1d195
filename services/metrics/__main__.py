"""``python -m services.metrics``: the ClickHouse projection and its query API."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from tracklane_proto import metrics_pb2_grpc

from services.common import bus, log, replay, runtime
from services.common.projections import REGISTRY
from services.metrics.grpc_api import MetricsApi
from services.metrics.projection import ScalarProjection
from services.metrics.settings import Settings
from services.metrics.store import ClickHouseScalarStore


async def main() -> None:
    settings = Settings.from_env()
    logger = log.configure("metrics", settings.common.log_level, settings.common.log_format)
    store = ClickHouseScalarStore(settings.clickhouse_url, cluster=settings.clickhouse_cluster)
    # chDB is one embedded engine: serialize its calls on one thread. A server takes a pool.
    executor = ThreadPoolExecutor(max_workers=1 if store.is_embedded else 4, thread_name_prefix="clickhouse")
    logger.info("metrics.store", clickhouse="chdb (embedded)" if store.is_embedded else "server")
    nc, js = await bus.connect(settings.common.nats_url, "metrics")
    await bus.ensure_stream(js, settings.common.nats_replicas)
    projection = ScalarProjection(store, executor)
    archive = replay.ArtifactArchive(settings.common.artifact_addr)

    async def reset() -> None:
        await asyncio.get_running_loop().run_in_executor(executor, store.reset)

    consumer = replay.Consumer(
        js,
        REGISTRY["metrics"],
        projection.handle,
        reset,
        archive,
        batch=settings.fetch_batch,
        replicas=settings.common.nats_replicas,
        lease_s=settings.common.replay_lease_s,
        feed_events=settings.common.replay_batch,
        archived=projection.handle_archived,
    )

    async def close() -> None:
        await nc.drain()
        await archive.close()
        executor.shutdown(wait=True)
        store.close()

    await runtime.run(
        runtime.Service(
            name="tracklane.v1.MetricsService",
            grpc_addr=settings.common.metrics_addr,
            prometheus_port=settings.prometheus_port,
            register=lambda server: metrics_pb2_grpc.add_MetricsServiceServicer_to_server(
                MetricsApi(store, executor, settings.common.debug_sample_retention), server
            ),
            background=[consumer.run],
            close=close,
            grace=settings.common.shutdown_grace,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
