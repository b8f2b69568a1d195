"""``python -m services.ingestion``: the SDKs' gRPC entry point to the event log."""

from __future__ import annotations

import asyncio

import grpc
from tracklane_proto import artifact_pb2_grpc, ingest_pb2_grpc, metadata_pb2_grpc

from services.common import bus, log, runtime
from services.common.auth import KeyResolver
from services.ingestion.grpc_api import IngestApi
from services.ingestion.settings import Settings


async def main() -> None:
    settings = Settings.from_env()
    log.configure("ingestion", settings.common.log_level, settings.common.log_format)
    nc, js = await bus.connect(settings.common.nats_url, "ingestion")
    await bus.ensure_stream(js, settings.common.nats_replicas)
    metadata = grpc.aio.insecure_channel(settings.common.metadata_addr)
    keys = KeyResolver(metadata_pb2_grpc.MetadataServiceStub(metadata), ttl_s=settings.common.key_cache_ttl)
    artifact = grpc.aio.insecure_channel(settings.common.artifact_addr)
    sequencer = await bus.Sequencer.open(js, settings.common.nats_replicas)
    api = IngestApi(
        nc, js, keys, artifact_pb2_grpc.ArtifactServiceStub(artifact), alive_interval_s=settings.alive_interval,
        sequencer=sequencer,
    )  # fmt: skip
    await api.watch_lifecycle()

    async def close() -> None:
        await nc.drain()
        await metadata.close()
        await artifact.close()

    await runtime.run(
        runtime.Service(
            name="tracklane.v1.IngestService",
            grpc_addr=settings.common.ingestion_addr,
            prometheus_port=settings.prometheus_port,
            register=lambda server: ingest_pb2_grpc.add_IngestServiceServicer_to_server(api, server),
            close=close,
            grace=settings.common.shutdown_grace,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
