"""The reporting store and projection against a MongoDB-wire server (nx-27017 here, and a real
MongoDB too whenever TRACKLANE_MONGODB_URL is set): events fed as the log would, twice, and in
other orders, give the same reports; listings filter, search, sort and page."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator

import pytest
from tracklane_proto import events_pb2
from tracklane_proto.events_pb2 import NoteSet, ReportCreated, ReportEdited, ReportShared, ReportShareRevoked

from services.common.contract import new_event, note_target
from services.common.projections import Positioned
from services.reporting.grpc_api import report_to_proto
from services.reporting.projection import ReportingProjection
from services.reporting.store import ReportStore

pytestmark = pytest.mark.engines
WS = "acme"


@pytest.fixture
async def store(mongo_url: str) -> AsyncIterator[ReportStore]:
    s = ReportStore(mongo_url, "t" + uuid.uuid4().hex[:12])
    await s.migrate()
    yield s
    await s.close()


def rid() -> str:
    return "r" + uuid.uuid4().hex[:24]


def ev(report: str, at: float, **payload: object) -> events_pb2.Event:
    return new_event(WS, report, uuid.uuid4().hex, server_time=at, **payload)


def history(report: str) -> list[Positioned]:
    """A report's life: created, renamed, body edited twice, tagged and untagged, moved, shared,
    one share revoked, published."""
    events = [
        ev(report, 1.0, report_created=ReportCreated(name="Draft", project="vision", description="first look",
                                                        tags=["a", "b"], body="# v1", user="ann")),
        ev(report, 2.0, report_edited=ReportEdited(name="Findings", body="# v2", add_tags=["c"], remove_tags=["a"])),
        ev(report, 3.0, report_shared=ReportShared(share_id="1" * 16, expires_at=0)),
        ev(report, 4.0, report_edited=ReportEdited(body="# v3", project="vision/resnet", add_tags=["a"])),
        ev(report, 5.0, report_shared=ReportShared(share_id="2" * 16, expires_at=99.0)),
        ev(report, 6.0, report_share_revoked=ReportShareRevoked(share_id="1" * 16)),
        ev(report, 7.0, report_edited=ReportEdited(published=True, remove_tags=["b"])),
    ]  # fmt: skip
    return [Positioned(e, 100 + i) for i, e in enumerate(events)]


async def shown(store: ReportStore, report: str) -> events_pb2.Event:
    doc = await store.get_report(WS, report)
    assert doc is not None
    return report_to_proto(doc, full=True)


async def test_events_fold_into_a_report(store: ReportStore) -> None:
    report = rid()
    await ReportingProjection(store).handle(history(report))
    r = await shown(store, report)
    assert (r.name, r.project, r.description, r.body) == ("Findings", "vision/resnet", "first look", "# v3")
    assert list(r.tags) == ["a", "c"]
    assert (r.status, r.archived, r.user, r.created_at, r.updated_at) == ("published", False, "ann", 1.0, 7.0)
    assert r.version == 106  # the newest content event's position (share events do not count)
    assert [(s.share_id, s.revoked, s.expires_at) for s in r.shares] == [("1" * 16, True, 0.0), ("2" * 16, False, 99.0)]


async def test_twice_and_in_any_order_the_same_report(store: ReportStore) -> None:
    report = rid()
    events = history(report)
    projection = ReportingProjection(store)
    await projection.handle(events)
    expected = await shown(store, report)
    await projection.handle(events)  # redelivered
    assert await shown(store, report) == expected
    for seed in range(3):
        other = ReportStore.__new__(ReportStore)
        other.client, other.db = store.client, store.client[f"{store.db.name}_{seed}"]
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        for one in shuffled:  # one at a time, as concurrent replicas could apply them
            await ReportingProjection(other).handle([one])
        assert await shown(other, report) == expected, f"order {seed}"


async def test_deleted_and_unknown_reports_are_not_found(store: ReportStore) -> None:
    report = rid()
    await ReportingProjection(store).handle(
        [
            Positioned(ev(report, 1.0, report_created=ReportCreated(name="x", project="p")), 1),
            Positioned(ev(report, 2.0, report_edited=ReportEdited(archived=True)), 2),
            Positioned(ev(report, 3.0, report_edited=ReportEdited(deleted=True)), 3),
            # an edit seen before its creation (a replica ahead of another) shows nothing alone
            Positioned(ev(other := rid(), 2.0, report_edited=ReportEdited(name="y")), 4),
        ]
    )
    assert await store.get_report(WS, report) is None
    assert await store.get_report(WS, other) is None
    assert await store.get_report(WS, rid()) is None


async def test_listings_filter_search_sort_and_page(store: ReportStore) -> None:
    specs = [
        ("Loss curves", "vision", "ResNet vs ViT", ["cv"], False, False),
        ("Ablations", "vision/resnet", "what the LOSS does", ["cv", "ablation"], True, False),
        ("Tokenizers", "nlp", "BPE", ["nlp"], False, False),
        ("Old notes", "vision", "loss, archived", ["cv"], False, True),
        ("Visionary", "visionary", "not under vision/", [], False, False),
    ]
    events, ids = [], {}
    for i, (name, project, description, tags, published, archived) in enumerate(specs):
        report = ids[name] = rid()
        events.append(Positioned(ev(report, float(i), report_created=ReportCreated(
            name=name, project=project, description=description, tags=tags, user="ann")), 10 * i + 1))  # fmt: skip
        if published or archived:
            edit = ReportEdited(published=True) if published else ReportEdited(archived=True)
            events.append(Positioned(ev(report, float(i) + 0.5, report_edited=edit), 10 * i + 2))
    await ReportingProjection(store).handle(events)

    async def names(**kw: object) -> list[str]:
        docs, total, _ = await store.list_reports(WS, **kw)  # type: ignore[arg-type]
        assert total == len(docs) or "limit" in kw
        return [d["name"] for d in docs]

    assert await names() == ["Visionary", "Tokenizers", "Ablations", "Loss curves"]  # newest first
    assert await names(project="vision") == ["Ablations", "Loss curves"]  # and its sub-projects only
    assert await names(search="loss") == ["Ablations", "Loss curves"]  # name or description, any case
    assert await names(search="loss", archived=True) == ["Old notes"]
    assert await names(tags=["cv", "ablation"]) == ["Ablations"]
    assert await names(status="published") == ["Ablations"]
    assert await names(status="draft", order_by="name") == ["Loss curves", "Tokenizers", "Visionary"]
    assert await names(search="(", project="a.b") == []  # regular-expression characters are text
    docs, total, projects = await store.list_reports(WS, order_by="created_at", offset=1, limit=2)
    assert ([d["name"] for d in docs], total) == (["Ablations", "Tokenizers"], 4)
    assert projects == ["nlp", "vision", "vision/resnet", "visionary"]
    assert "body" not in docs[0]
    with pytest.raises(ValueError, match="order_by"):
        await store.list_reports(WS, order_by="body")


async def test_notes_keep_the_newest_text(store: ReportStore) -> None:
    target = note_target("vision/resnet")
    events = [
        Positioned(new_event(WS, target, f"n{i}", server_time=float(i), note_set=NoteSet(project="vision/resnet",
                                                                                         text=f"v{i}", user="bo")), i)
        for i in (1, 2, 3)
    ]  # fmt: skip
    for order in (events, events[::-1]):
        s = ReportStore.__new__(ReportStore)
        s.client, s.db = store.client, store.client[f"{store.db.name}_{len(order)}_{order[0].position}"]
        await ReportingProjection(s).handle(order)
        doc = await s.get_note(WS, target)
        assert doc is not None and (doc["text"], doc["position"], doc["user"]) == ("v3", 3, "bo")
    assert await store.get_note(WS, note_target("elsewhere")) is None
