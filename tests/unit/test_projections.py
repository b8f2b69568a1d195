"""Projections fed lists of ``(event, position)`` pairs, without NATS; stored events of older
schema versions upcast on read; the registry agrees with the handlers."""

from __future__ import annotations

import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tracklane_proto import events_pb2

from services.artifact.projection import FileProjection
from services.artifact.store import FileObjectStore
from services.common import bus, contract
from services.common.projections import REGISTRY, Positioned
from services.metrics.projection import ScalarProjection
from services.metrics.store import ConsoleEvent, ScalarEvent
from tests.conftest import scalar_event

WS = "ws1"


def _exp() -> str:
    return uuid.uuid4().hex


def _envelope(exp: str, seq: int, **payload: Any) -> events_pb2.Event:
    return contract.new_event(WS, exp, contract.event_id(exp, seq), seq=seq, **payload)


def _positioned(*events: events_pb2.Event) -> list[Positioned]:
    return [Positioned(e, i + 1) for i, e in enumerate(events)]


# -- upcasting ------------------------------------------------------------------------------------
@dataclass
class _Seq:
    stream: int


@dataclass
class _Meta:
    sequence: _Seq
    num_delivered: int = 1


@dataclass
class _StoredMsg:
    """What the bus reads from JetStream: bytes on a subject at a stream position."""

    data: bytes
    subject: str
    metadata: _Meta


def _stored(event: events_pb2.Event, position: int) -> _StoredMsg:
    return _StoredMsg(event.SerializeToString(), "tl.ev.x", _Meta(_Seq(position)))


def test_a_stored_version_1_event_is_upcast_on_read() -> None:
    exp = _exp()
    v1 = events_pb2.Event(
        event_id=contract.event_id(exp, 5), workspace=WS, experiment_id=exp, seq=5, schema_version=1,
        server_time=1_700_000_000.0,
        status_changed=events_pb2.StatusChanged(status=events_pb2.EXPERIMENT_STATUS_COMPLETED),  # at = 0: "now"
    )  # fmt: skip
    created = events_pb2.Event(
        event_id=contract.event_id(exp, 0), workspace=WS, experiment_id=exp, server_time=1_699_999_000.0,
        experiment_created=events_pb2.ExperimentCreated(project="p", name="n"),  # no version at all: the oldest
    )  # fmt: skip
    [a, b] = bus.positioned([_stored(v1, 41), _stored(created, 42)])  # type: ignore[list-item]
    assert (a.position, b.position) == (41, 42)
    assert a.event.schema_version == b.event.schema_version == contract.SCHEMA_VERSION
    assert a.event.status_changed.at == 1_700_000_000.0
    assert b.event.experiment_created.started_at == 1_699_999_000.0


def test_a_current_event_is_left_as_it_is() -> None:
    exp = _exp()
    event = _envelope(exp, 1, status_changed=events_pb2.StatusChanged(status=2, at=5.0))
    [read] = bus.positioned([_stored(event, 7)])  # type: ignore[list-item]
    assert read.event == event


def test_what_is_not_a_readable_event_is_left_out_not_fatal() -> None:
    exp = _exp()
    future = _envelope(exp, 1, client_alive=events_pb2.ClientAlive())
    future.schema_version = contract.SCHEMA_VERSION + 1
    good = _envelope(exp, 2, client_alive=events_pb2.ClientAlive())
    garbage = _StoredMsg(b"\xff\xff not protobuf", "tl.ev.x", _Meta(_Seq(1)))
    read = bus.positioned([garbage, _stored(future, 2), _stored(good, 3)])  # type: ignore[list-item]
    assert [r.position for r in read] == [3]


def test_the_envelope_factory_takes_exactly_one_known_payload() -> None:
    with pytest.raises(TypeError):
        contract.new_event(
            WS, _exp(), "e", client_alive=events_pb2.ClientAlive(), stop_requested=events_pb2.StopRequested()
        )
    with pytest.raises(TypeError):
        contract.new_event(WS, _exp(), "e", not_a_payload=1)
    event = contract.new_event(WS, "workspace", "k.1", key_revoked=events_pb2.KeyRevoked(key_id="k"))
    assert contract.kind_of(event) == "access" and event.schema_version == contract.SCHEMA_VERSION
    assert bus.Outgoing.of(event).subject == "tl.ev.ws1.workspace.access"


# -- the metrics projection -----------------------------------------------------------------------
@dataclass
class RecordingScalarStore:
    """Records the writes the projection asks of its store (the ScalarStore protocol's write
    side); the store's own idempotency is covered against chDB in tests/engines."""

    writes: list[tuple[Any, ...]] = field(default_factory=list)
    clears: dict[tuple[str, str], int] = field(default_factory=dict)

    def insert_many(self, events: list[ScalarEvent], token: str) -> None:
        self.writes.append(("scalars", [(e.experiment_id, e.event_id, len(e.columns)) for e in events], token))

    def delete_experiment(self, workspace: str, experiment_id: str, position: int) -> None:
        self.writes.append(("delete", experiment_id))
        self.clears[(workspace, experiment_id)] = position

    def cleared(self, experiments: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {k: p for k, p in self.clears.items() if k in experiments}

    def insert_console_many(self, events: list[ConsoleEvent], token: str) -> None:
        self.writes.append(("console", [(e.experiment_id, e.seq, len(e.lines)) for e in events], token))

    def settle(self, event: ScalarEvent) -> int:
        self.writes.append(("settle", event.event_id))
        return 0

    def settle_console(self, event: ConsoleEvent) -> int:
        self.writes.append(("settle_console", event.event_id))
        return 0

    def insert_plot(self, workspace: str, experiment_id: str, seq: int, plot: Any, at: float, again: bool) -> None:
        self.writes.append(("plot", experiment_id, seq, plot.metric) + (("again",) if again else ()))

    def insert_sample(self, workspace: str, experiment_id: str, seq: int, sample: Any, at: float, again: bool) -> None:
        self.writes.append(("sample", experiment_id, seq, sample.metric) + (("again",) if again else ()))


def _scalars(exp: str, seq: int, n: int) -> events_pb2.Event:
    event = scalar_event(seq, [("loss", "train", i, 1.0 / (i + 1)) for i in range(n)])
    return contract.stamp(event, WS, exp, time.time())


async def test_the_metrics_projection_writes_in_log_order_and_skips_a_bad_event() -> None:
    a, b = _exp(), _exp()
    bad = _scalars(a, 3, 2)
    bad.scalars.series_index = b"\x07\x00\x00\x00\x07\x00\x00\x00"  # refers to a series that is not there
    plot = events_pb2.PlotReported(metric="roc", variant="val", kind="plotly", figure_json="{}")
    store = RecordingScalarStore()
    with ThreadPoolExecutor(1) as pool:
        await ScalarProjection(store, pool).handle(  # type: ignore[arg-type]
            _positioned(
                _scalars(a, 1, 10),
                _envelope(a, 2, plot_reported=plot),
                bad,
                _envelope(b, 1, params_set=events_pb2.ParamsSet(section="General")),  # not for this projection
                _scalars(b, 2, 3),
                _envelope(a, 4, experiment_cleared=events_pb2.ExperimentCleared()),
            )
        )
    a1, b2 = contract.event_id(a, 1), contract.event_id(b, 2)
    assert store.writes == [
        ("scalars", [(a, a1, 10)], a1),  # each event its own insert, deduplicated by its id
        ("plot", a, 2, "roc"),
        ("scalars", [(b, b2, 3)], b2),
        ("delete", a),
    ]


async def test_a_replayed_archive_batch_goes_in_as_one_insert_per_kind_between_clears() -> None:
    a, b = _exp(), _exp()
    lines = events_pb2.ConsoleLines(text=["x", "y"], timestamps=b"\0" * 16, levels=b"\2\2", sources=b"\1\1")
    batch = _positioned(
        _scalars(a, 1, 10),
        _envelope(a, 2, console_lines=lines),
        _scalars(b, 1, 3),
        _envelope(b, 2, console_lines=lines),
        _envelope(a, 3, experiment_cleared=events_pb2.ExperimentCleared()),
        _scalars(a, 4, 5),
    )
    recorded = []
    for _ in range(2):  # a resumed replay feeds the same batch again: the same inserts, the same tokens
        store = RecordingScalarStore()
        with ThreadPoolExecutor(1) as pool:
            await ScalarProjection(store, pool).handle_archived(batch)  # type: ignore[arg-type]
        recorded.append(store.writes)
    assert recorded[0] == recorded[1]
    scalars, console, delete, after = recorded[0]
    assert scalars[:2] == ("scalars", [(a, contract.event_id(a, 1), 10), (b, contract.event_id(b, 1), 3)])
    assert console[:2] == ("console", [(a, 2, 2), (b, 2, 2)])
    assert scalars[2].startswith("g:") and console[2].startswith("g:") and scalars[2] != console[2]
    assert delete == ("delete", a)  # the clear comes after what was logged before it, before what after
    assert after == ("scalars", [(a, contract.event_id(a, 4), 5)], contract.event_id(a, 4))


def test_a_redelivered_message_is_marked_so() -> None:
    exp = _exp()
    event = _envelope(exp, 1, client_alive=events_pb2.ClientAlive())
    first, again = _stored(event, 5), _stored(event, 5)
    again.metadata.num_delivered = 2
    assert [p.redelivered for p in bus.positioned([first, again])] == [False, True]  # type: ignore[list-item]


async def test_an_event_seen_before_is_settled_after_its_insert() -> None:
    """The store cannot tell a dropped duplicate from a token whose rows a crash lost, so every
    event that may have been applied before is checked right after its own insert."""
    a = _exp()
    lines = events_pb2.ConsoleLines(text=["x"], timestamps=b"\0" * 8, levels=b"\2", sources=b"\1")
    plot = events_pb2.PlotReported(metric="roc", variant="val", kind="plotly", figure_json="{}")
    events = [_scalars(a, 1, 10), _envelope(a, 2, console_lines=lines), _envelope(a, 3, plot_reported=plot),
              _scalars(a, 4, 5)]  # fmt: skip
    batch = [Positioned(e, i + 1, redelivered=i != 3) for i, e in enumerate(events)]
    a1, a2, a4 = (contract.event_id(a, s) for s in (1, 2, 4))
    expected = [("scalars", [(a, a1, 10)], a1), ("settle", a1), ("console", [(a, 2, 1)], a2),
                ("settle_console", a2), ("plot", a, 3, "roc", "again"), ("scalars", [(a, a4, 5)], a4)]  # fmt: skip
    for feed in ("handle", "handle_archived"):  # an archive batch fed again goes in an event at a time
        store = RecordingScalarStore()
        with ThreadPoolExecutor(1) as pool:
            await getattr(ScalarProjection(store, pool), feed)(batch)
        assert store.writes == expected, feed


async def test_an_event_delivered_again_after_a_clear_of_its_experiment_is_skipped() -> None:
    a, b = _exp(), _exp()
    store = RecordingScalarStore()
    with ThreadPoolExecutor(1) as pool:
        projection = ScalarProjection(store, pool)
        await projection.handle([Positioned(_envelope(a, 9, experiment_cleared=events_pb2.ExperimentCleared()), 9)])
        store.writes.clear()
        # JetStream redelivers unacknowledged messages after newer ones: a's event 2 comes after the clear
        await projection.handle([Positioned(_scalars(a, 2, 10), 5, redelivered=True),
                                 Positioned(_scalars(b, 2, 10), 6, redelivered=True),
                                 Positioned(_scalars(a, 12, 3), 12, redelivered=True)])  # fmt: skip
    a12, b2 = contract.event_id(a, 12), contract.event_id(b, 2)
    assert store.writes == [("scalars", [(b, b2, 10)], b2), ("settle", b2), ("scalars", [(a, a12, 3)], a12),
                            ("settle", a12)]  # fmt: skip


# -- the artifact projection, on the real file store ------------------------------------------------
def _sample(store: FileObjectStore, exp: str, seq: int, iteration: int) -> events_pb2.Event:
    key = f"debug/inputs/batch/{iteration:012d}.png"
    info = store.put(contract.object_key(WS, exp, key), io.BytesIO(b"x" * (iteration + 1)))
    ref = events_pb2.FileReference(key=key, size=info.size, sha256=info.sha256)
    sample = events_pb2.DebugSample(metric="inputs", variant="batch", iteration=iteration, kind="image", file=ref)
    return _envelope(exp, seq, debug_sample=sample)


async def test_the_artifact_projection_keeps_the_last_samples_and_clears_experiments(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path, b"k" * 32, "http://127.0.0.1:1")
    kept, cleared = _exp(), _exp()
    events = [_sample(store, kept, i + 1, i) for i in range(5)] + [_sample(store, cleared, 1, 0)]
    projection = FileProjection(store, keep_last=2)
    await projection.handle(_positioned(*events))
    assert [k.rsplit("/", 1)[1] for k in store.keys(f"{WS}/{kept}/")] == ["000000000003.png", "000000000004.png"]
    assert store.keys(f"{WS}/{cleared}/")
    await projection.handle(_positioned(_envelope(cleared, 2, experiment_cleared=events_pb2.ExperimentCleared())))
    assert store.keys(f"{WS}/{cleared}/") == []
    await projection.handle(_positioned(*events))  # redelivered: the same objects, or fewer
    assert len(store.keys(f"{WS}/{kept}/")) == 2


# -- the registry ---------------------------------------------------------------------------------
def test_the_registry_names_a_handler_and_known_kinds_for_each_projection() -> None:
    assert set(REGISTRY) == {"metadata", "metrics", "artifact", "reporting"}
    for spec in REGISTRY.values():
        assert callable(getattr(spec.handler_class(), "handle", None)), spec.name
        assert spec.filter_subjects == [f"tl.ev.*.*.{k}" for k in spec.kinds]
    # every kind of event is read by some projection (nothing written to the log is lost to readers)
    assert set(contract.KINDS) == {k for spec in REGISTRY.values() for k in spec.kinds}
    with pytest.raises(ValueError):
        contract.kind_filter("nope")
