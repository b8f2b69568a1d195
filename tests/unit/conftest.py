"""Fakes for the gateway's use-case tests: real gRPC servers with fake servicers (the metadata
and metrics services' answers), and a recording stand-in for JetStream. No engine runs here;
the end-to-end suite covers the real services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
import pytest
from tracklane_proto import events_pb2, metadata_pb2, metadata_pb2_grpc, metrics_pb2, metrics_pb2_grpc

from gateway.state import GatewayState
from services.common.auth import Principal
from services.common.events import parse

WS = "ws1"
ADMIN = Principal(WS, "admin", "k-admin", "alice")
VIEWER = Principal(WS, "viewer", "k-viewer", "bob")


class FakeMetadata(metadata_pb2_grpc.MetadataServiceServicer):
    """Experiments by id, scoped to their workspace like the real service."""

    def __init__(self) -> None:
        self.experiments: dict[str, metadata_pb2.Experiment] = {}

    async def GetExperiment(
        self, request: metadata_pb2.GetExperimentRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.Experiment:
        found = self.experiments.get(request.experiment_id)
        if found is None or found.workspace != request.workspace:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"experiment {request.experiment_id} not found")
        assert found is not None
        return found


@dataclass
class _Ack:
    seq: int
    duplicate: bool = False


@dataclass
class _Floor:
    stream_seq: int


@dataclass
class _ConsumerInfo:
    ack_floor: _Floor


@dataclass
class RecordingLog:
    """JetStream's two calls the commands make: ``publish`` (deduplicated by Nats-Msg-Id) and
    ``consumer_info`` (each projection's ack floor, which the test moves)."""

    published: list[tuple[str, events_pb2.Event]] = field(default_factory=list)
    floors: dict[str, int] = field(default_factory=dict)
    applies: bool = True

    async def publish(self, subject: str, data: bytes, headers: dict[str, str], **_: Any) -> _Ack:
        ids = [e.event_id for _, e in self.published]
        if headers["Nats-Msg-Id"] in ids:
            return _Ack(ids.index(headers["Nats-Msg-Id"]) + 1, duplicate=True)
        self.published.append((subject, parse(data)))
        if self.applies:
            for durable in ("metadata", "metrics-scalars", "artifact"):
                self.floors[durable] = len(self.published)
        return _Ack(len(self.published))

    async def consumer_info(self, stream: str, durable: str) -> _ConsumerInfo:
        return _ConsumerInfo(_Floor(self.floors.get(durable, 0)))


class FakeMetrics(metrics_pb2_grpc.MetricsServiceServicer):
    """Series by experiment: ListSeries names them, QueryScalars (and QueryChart, series by
    series) answers one bucket per point and records each query (the zoom and the series)."""

    def __init__(self) -> None:
        self.series: dict[str, list[tuple[str, str]]] = {}
        self.queries: list[metrics_pb2.ScalarQuery] = []

    async def ListSeries(
        self, request: metrics_pb2.ListSeriesRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ListSeriesResponse:
        return metrics_pb2.ListSeriesResponse(
            series=[metrics_pb2.SeriesInfo(metric=m, variant=v) for m, v in self.series.get(request.experiment_id, [])]
        )

    async def QueryScalars(
        self, request: metrics_pb2.ScalarQuery, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ScalarSeries:
        self.queries.append(request)
        return metrics_pb2.ScalarSeries(
            metric=request.metric, variant=request.variant, total_points=2, x=[0, 1], min=[1, float("nan")],
            max=[1, float("nan")], mean=[1, float("nan")], last=[1, float("nan")], count=[1, 1],
        )  # fmt: skip

    async def QueryChart(
        self, request: metrics_pb2.ChartQuery, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ChartSeries:
        return metrics_pb2.ChartSeries(series=[await self.QueryScalars(q, context) for q in request.series])


@dataclass
class World:
    st: GatewayState
    metadata: FakeMetadata
    metrics: FakeMetrics
    log: RecordingLog

    def __iter__(self) -> Any:  # st, metadata, log = world
        return iter((self.st, self.metadata, self.log))


@pytest.fixture
async def world() -> AsyncIterator[World]:
    fake, metrics = FakeMetadata(), FakeMetrics()
    server = grpc.aio.server()
    metadata_pb2_grpc.add_MetadataServiceServicer_to_server(fake, server)
    metrics_pb2_grpc.add_MetricsServiceServicer_to_server(metrics, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    log = RecordingLog()
    st = GatewayState(
        channels=[channel],
        js=cast(Any, log),
        metadata=metadata_pb2_grpc.MetadataServiceStub(channel),
        metrics=metrics_pb2_grpc.MetricsServiceStub(channel),
        artifacts=cast(Any, None),
        reporting=cast(Any, None),
        ingest=cast(Any, None),
        keys=cast(Any, None),
        grants=cast(Any, None),
        embed_secret=b"",
        settings=cast(Any, None),
        sessions=cast(Any, None),
    )
    yield World(st, fake, metrics, log)
    await channel.close()
    await server.stop(None)


def experiment(fake: FakeMetadata, **fields: Any) -> str:
    """A new experiment of WS in the fake metadata service; its id."""
    experiment_id = uuid.uuid4().hex
    fields.setdefault("status", events_pb2.EXPERIMENT_STATUS_RUNNING)
    fake.experiments[experiment_id] = metadata_pb2.Experiment(
        id=experiment_id, workspace=WS, project="p", name="run", **fields
    )
    return experiment_id
