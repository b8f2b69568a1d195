"""The gateway's command use cases, without engines: a real gRPC server with a fake metadata
servicer answers the reads, and a recording stand-in for JetStream takes the publishes (no
NATS here: these tests are about the use case's rules, the end-to-end suite runs the real
log)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
import pytest
from tracklane_proto import events_pb2, metadata_pb2, metadata_pb2_grpc

from gateway import commands
from gateway.errors import ApiError
from gateway.state import GatewayState
from services.common.auth import Principal
from services.common.contract import SCHEMA_VERSION
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


@pytest.fixture
async def world() -> AsyncIterator[tuple[GatewayState, FakeMetadata, RecordingLog]]:
    fake = FakeMetadata()
    server = grpc.aio.server()
    metadata_pb2_grpc.add_MetadataServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    log = RecordingLog()
    st = GatewayState(
        channels=[channel],
        js=cast(Any, log),
        metadata=metadata_pb2_grpc.MetadataServiceStub(channel),
        metrics=cast(Any, None),
        artifacts=cast(Any, None),
        keys=cast(Any, None),
        grants=cast(Any, None),
        embed_secret=b"",
        settings=cast(Any, None),
    )
    yield st, fake, log
    await channel.close()
    await server.stop(None)


def _experiment(fake: FakeMetadata, **fields: Any) -> str:
    experiment_id = uuid.uuid4().hex
    fields.setdefault("status", events_pb2.EXPERIMENT_STATUS_RUNNING)
    fake.experiments[experiment_id] = metadata_pb2.Experiment(
        id=experiment_id, workspace=WS, project="p", name="run", **fields
    )
    return experiment_id


async def test_an_edit_is_one_signed_event_and_answers_the_experiment(world: Any) -> None:
    st, fake, log = world
    exp = _experiment(fake)
    edit = events_pb2.ExperimentEdited(name="renamed")
    outcome = await commands.apply_edit(st, ADMIN, exp, edit, commands.read_only, cid="retry-me-1")
    [(subject, event)] = log.published
    assert subject == f"tl.ev.{WS}.{exp}.edit"
    assert event.event_id == f"{exp}.edit.retry-me-1" and event.schema_version == SCHEMA_VERSION
    assert event.experiment_edited.name == "renamed" and event.experiment_edited.by_key == "k-admin"
    assert outcome.experiment is not None and outcome.experiment.id == exp
    await commands.apply_edit(st, ADMIN, exp, edit, commands.read_only, cid="retry-me-1")  # a retry
    assert len(log.published) == 1


async def test_preconditions_refuse_with_409_and_publish_nothing(world: Any) -> None:
    st, fake, log = world
    published = _experiment(fake, published=True)
    with pytest.raises(ApiError) as refused:
        await commands.apply_edit(st, ADMIN, published, events_pb2.ExperimentEdited(name="x"), commands.read_only)
    assert refused.value.status == 409 and "read-only" in refused.value.message
    active = _experiment(fake)
    with pytest.raises(ApiError) as refused:
        await commands.apply_edit(st, ADMIN, active, events_pb2.ExperimentEdited(deleted=True), commands.archived_only)
    assert refused.value.status == 409 and "archive it first" in refused.value.message
    done = _experiment(fake, status=events_pb2.EXPERIMENT_STATUS_COMPLETED)
    stop: commands.Payload = lambda who, _: {"stop_requested": events_pb2.StopRequested(by_key=who.key_id)}  # noqa: E731
    with pytest.raises(ApiError) as refused:
        await commands.run_command(st, ADMIN, done, "stop", stop, commands.running_only)
    assert refused.value.status == 409 and "completed" in refused.value.message
    assert log.published == []


async def test_a_viewer_changes_nothing_and_another_workspace_sees_nothing(world: Any) -> None:
    st, fake, log = world
    exp = _experiment(fake)
    with pytest.raises(ApiError) as refused:
        await commands.apply_edit(st, VIEWER, exp, events_pb2.ExperimentEdited(archived=True))
    assert refused.value.status == 403
    stranger = Principal("other", "admin", "k-other")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await commands.apply_edit(st, stranger, exp, events_pb2.ExperimentEdited(archived=True))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND  # the gateway answers 404
    assert log.published == []


async def test_a_lagging_projection_gives_an_accepted_outcome(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    st, fake, log = world
    monkeypatch.setattr(commands, "APPLY_WAIT_S", 0.05)
    log.applies = False
    exp = _experiment(fake)
    outcome = await commands.apply_edit(st, ADMIN, exp, events_pb2.ExperimentEdited(archived=True))
    assert outcome.experiment is None and outcome.event_id.startswith(f"{exp}.edit.")
    assert len(log.published) == 1  # on the log all the same


async def test_waiting_for_several_projections_needs_every_one(world: Any) -> None:
    st, _, log = world
    log.floors = {"metadata": 10, "metrics-scalars": 10, "artifact": 3}
    assert await commands.wait_applied(st.js, 10, ("metadata", "metrics"), within_s=0.05)
    assert not await commands.wait_applied(st.js, 10, ("metadata", "metrics", "artifact"), within_s=0.05)


def test_idempotency_keys_are_checked() -> None:
    assert commands.command_id("abcdefgh-1") == "abcdefgh-1"
    assert len(commands.command_id(None)) == 32
    with pytest.raises(ApiError) as bad:
        commands.command_id("short")
    assert bad.value.field == "Idempotency-Key"
