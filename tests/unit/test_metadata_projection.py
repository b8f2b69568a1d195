"""The metadata projection fed lists of ``(event, position)`` pairs, on an in-memory write side
(the Mongo adapter's own behaviour is covered against nx-27017 in tests/engines): the same events
in other batches, another order, or twice, give the same documents; a stored version-1 event is
upcast on the way in."""

from __future__ import annotations

import copy
import random
import uuid
from collections import defaultdict
from typing import Any

from tracklane_proto import events_pb2

from services.common import bus, contract
from services.common.projections import Positioned
from services.metadata.domain import Doc, column_doc, view_id
from services.metadata.projection import MetadataProjection
from tests.conftest import scalar_event
from tests.unit.test_projections import _stored

WS = "ws1"
Mutation = Any


class MemoryWrites:
    """The part of MetadataStore the projection writes through, over dicts."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, Doc]] = defaultdict(dict)
        self.indexed: dict[str, Doc] = {}

    def _mutate(self, collection: str, doc_id: str, change: Mutation) -> Doc:
        current = self.collections[collection].get(doc_id)
        new: Doc = change(copy.deepcopy(current) if current is not None else None)
        self.collections[collection][doc_id] = new
        return new

    async def mutate_experiment(self, experiment_id: str, change: Mutation) -> Doc:
        return self._mutate("experiments", experiment_id, change)

    async def index_experiments(self, docs: list[Doc]) -> None:
        self.indexed.update({d["_id"]: d for d in docs})

    async def touch_project(self, workspace: str, path: str, at: float) -> None:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            project = self.collections["projects"].setdefault(f"{workspace}/{'/'.join(parts[:depth])}", {"at": at})
            project["at"] = max(project["at"], at)

    async def note_columns(self, workspace: str, project: str, names: set[tuple[str, str]]) -> None:
        for kind, name in names:
            column = column_doc(workspace, project, kind, name)
            self.collections["project_columns"].setdefault(column["_id"], column)

    async def ensure_workspace(self, workspace: str, name: str, at: float) -> None:
        self.collections["workspaces"].setdefault(workspace, {"_id": workspace, "name": name, "created_at": at})

    async def mutate_key(self, key_id: str, change: Mutation) -> Doc:
        return self._mutate("api_keys", key_id, change)

    async def mutate_member(self, workspace: str, user: str, change: Mutation) -> Doc:
        return self._mutate("members", f"{workspace}/{user}", change)

    async def mutate_workspace(self, workspace: str, change: Mutation) -> Doc:
        return self._mutate("workspaces", workspace, change)

    async def mutate_embed(self, embed_id: str, change: Mutation) -> Doc:
        return self._mutate("embeds", embed_id, change)

    async def mutate_project(self, workspace: str, path: str, change: Mutation) -> Doc:
        return self._mutate("projects", f"{workspace}/{path}", change)

    async def mutate_view(self, workspace: str, project: str, name: str, change: Mutation) -> Doc:
        return self._mutate("views", view_id(workspace, project, name), change)


def _history() -> list[Positioned]:
    """A run's life on the log, as positioned events: created, two scalar batches, tags and a
    rename by a person, a key created, the run completed (that one stored as version 1)."""
    exp = uuid.uuid4().hex
    t = 1_700_000_000.0
    events = [
        contract.new_event(WS, exp, contract.event_id(exp, 0), server_time=t,
                           experiment_created=events_pb2.ExperimentCreated(project="a/b", name="run", started_at=t)),
        contract.stamp(scalar_event(1, [("loss", "train", 0, 1.0), ("loss", "train", 1, 0.5)]), WS, exp, t + 1),
        contract.stamp(scalar_event(2, [("loss", "train", 2, 0.25), ("loss", "val", 2, 0.7)]), WS, exp, t + 2),
        contract.new_event(WS, exp, f"{exp}.edit.1", server_time=t + 3,
                           experiment_edited=events_pb2.ExperimentEdited(name="renamed", add_tags=["best"])),
        contract.new_event(WS, contract.WORKSPACE_LEVEL, "key.k1.created", server_time=t + 4,
                           key_created=events_pb2.KeyCreated(key_id="k1", key_hash="h" * 64, role="viewer", name="ci")),
    ]  # fmt: skip
    done = events_pb2.Event(
        event_id=contract.event_id(exp, 3), workspace=WS, experiment_id=exp, seq=3, schema_version=1,
        server_time=t + 5, status_changed=events_pb2.StatusChanged(status=events_pb2.EXPERIMENT_STATUS_COMPLETED),
    )  # fmt: skip
    [stored] = bus.positioned([_stored(done, 6)])  # type: ignore[list-item]
    return [Positioned(e, i + 1) for i, e in enumerate(events)] + [stored]


async def _project(batches: list[list[Positioned]]) -> MemoryWrites:
    writes = MemoryWrites()
    projection = MetadataProjection(writes)  # type: ignore[arg-type]
    for batch in batches:
        await projection.handle(batch)
    return writes


def _docs(writes: MemoryWrites) -> dict[str, Any]:
    return dict(writes.collections)


async def test_the_history_makes_the_document() -> None:
    history = _history()
    writes = await _project([history])
    [doc] = writes.collections["experiments"].values()
    assert (doc["name"], doc["project"], doc["tags"], doc["status"]) == ("renamed", "a/b", ["best"], "completed")
    assert doc["ended_at"] == history[-1].event.server_time  # the version-1 status's time, upcast
    assert set(writes.collections["projects"]) == {f"{WS}/a", f"{WS}/a/b"}
    assert writes.collections["api_keys"]["k1"]["role"] == "viewer"
    assert writes.indexed[doc["_id"]]["name"] == "renamed"
    columns = {(c["project"], c["kind"], c["name"]) for c in writes.collections["project_columns"].values()}
    assert columns == {("a/b", "metrics", "loss/train"), ("a/b", "metrics", "loss/val")}


async def test_other_batches_other_orders_and_redeliveries_converge() -> None:
    history = _history()
    expected = _docs(await _project([history]))
    rng = random.Random(7)
    for _ in range(20):
        again = history + rng.sample(history, k=3)  # some delivered twice
        rng.shuffle(again)
        cuts = sorted(rng.sample(range(1, len(again)), k=2))
        batches = [again[: cuts[0]], again[cuts[0] : cuts[1]], again[cuts[1] :]]
        assert _docs(await _project(batches)) == expected


def _view_events() -> list[Positioned]:
    """Views of project a/b: "mine" saved as the default, "theirs" saved, "mine" saved again with
    another state, then deleted (so the project has no default), "theirs" made the default."""
    t = 1_700_000_000.0
    lvl = contract.WORKSPACE_LEVEL

    def ev(i: int, **payload: Any) -> events_pb2.Event:
        return contract.new_event(WS, lvl, f"view.{i}", server_time=t + i, **payload)

    events = [
        ev(
            1,
            view_saved=events_pb2.ViewSaved(
                project="a/b", name="mine", state="filter=x", make_default=True, user="ann"
            ),
        ),
        ev(2, view_saved=events_pb2.ViewSaved(project="a/b", name="theirs", state="order=name", user="bob")),
        ev(3, view_saved=events_pb2.ViewSaved(project="a/b", name="mine", state="filter=y", user="ann")),
        ev(4, view_deleted=events_pb2.ViewDeleted(project="a/b", name="mine")),
        ev(5, view_default_set=events_pb2.ViewDefaultSet(project="a/b", name="theirs")),
    ]
    return [Positioned(e, i + 1) for i, e in enumerate(events)]


async def test_saved_views_and_the_default_converge_in_any_order() -> None:
    history = _view_events()
    writes = await _project([history[:3]])
    views = {v["name"]: v for v in writes.collections["views"].values()}
    assert views["mine"]["state"] == "filter=y" and not views["mine"]["deleted"]
    assert writes.collections["projects"][f"{WS}/a/b"]["default_view"] == "mine"
    expected = _docs(await _project([history]))
    views = {v["name"]: v for v in expected["views"].values()}
    assert views["mine"]["deleted"] and views["theirs"]["state"] == "order=name"
    assert expected["projects"][f"{WS}/a/b"]["default_view"] == "theirs"
    rng = random.Random(3)
    for _ in range(20):
        again = history + rng.sample(history, k=2)
        rng.shuffle(again)
        assert _docs(await _project([again])) == expected  # the views, and the project's default and creation
