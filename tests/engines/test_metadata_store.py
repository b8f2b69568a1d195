"""The metadata store's contract against a MongoDB-wire server: nx-27017 here, and a real
MongoDB too whenever TRACKLANE_MONGODB_URL is set. Also pins nx-27017's known defects, so that a
change in them (fixed or worse) is noticed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from tracklane_proto import events_pb2

from services.common.auth import hash_api_key
from services.metadata import domain
from services.metadata.migrations import m0003_project_columns
from services.metadata.store import MongoMetadataStore, Mutation
from services.metadata.table import ExperimentTable, TableQuery
from tests.conftest import new_id

pytestmark = pytest.mark.engines


@pytest.fixture
async def store(mongo_url: str, chdb_url: str) -> AsyncIterator[MongoMetadataStore]:
    name = "t" + uuid.uuid4().hex[:12]
    s = MongoMetadataStore(mongo_url, name, ExperimentTable(chdb_url, f"experiment_table_{name}"))
    await s.migrate()
    yield s
    await s.close()


async def mutate(store: MongoMetadataStore, experiment_id: str, change: Mutation) -> domain.Doc:
    """What the projection does: the document, then its table row."""
    doc = await store.mutate_experiment(experiment_id, change)
    await store.index_experiments([doc])
    return doc


def created(project: str) -> events_pb2.ExperimentCreated:
    return events_pb2.ExperimentCreated(project=project, name="n", tags=["x"], user="u", started_at=1.0)


async def test_mutations_create_then_update_with_versions(store: MongoMetadataStore) -> None:
    exp = new_id()
    doc = await mutate(store, exp, lambda d: domain.apply_created(d, exp, "ws", created("p"), 10.0, 1))
    assert doc["version"] == 1
    doc = await mutate(store, exp, lambda d: domain.apply_status(d, exp, "ws", 5, "completed", "", 11.0))
    assert doc["version"] == 2
    got = await store.get_experiment("ws", exp)
    assert got is not None and got["status"] == "completed" and got["project"] == "p"
    assert await store.get_experiment("other", exp) is None


async def test_concurrent_mutations_all_land(store: MongoMetadataStore) -> None:
    import asyncio

    from services.common.events import ScalarColumns
    from tests.conftest import scalar_event

    exp = new_id()

    def scalars(i: int) -> list[domain.SeriesSummary]:
        return domain.summarize(ScalarColumns.decode(scalar_event(1, [("m", f"v{i}", i, float(i))]).scalars))

    await asyncio.gather(
        *(
            store.mutate_experiment(exp, lambda d, i=i: domain.apply_scalars(d, exp, "ws", i + 1, scalars(i), 1.0))
            for i in range(8)
        )
    )
    doc = await mutate(store, exp, lambda d: domain.apply_created(d, exp, "ws", created("p"), 2.0, 1))
    assert sorted(s["variant"] for s in domain.metric_summaries(doc)) == [f"v{i}" for i in range(8)]


async def test_listing_by_project_with_pages(store: MongoMetadataStore) -> None:
    ids = [new_id() for _ in range(5)]
    for i, exp in enumerate(ids):
        project = "vision/resnet" if i < 3 else "nlp"
        await mutate(
            store, exp, lambda d, e=exp, p=project, t=float(i): domain.apply_created(d, e, "ws", created(p), t, 1)
        )
    docs, total = await store.list_experiments(TableQuery("ws", "vision/resnet"), 0, 2)
    assert total == 3 and [d["_id"] for d in docs] == [ids[2], ids[1]]  # newest first
    docs, _ = await store.list_experiments(TableQuery("ws", "vision/resnet"), 2, 2)
    assert [d["_id"] for d in docs] == [ids[0]]
    assert (await store.list_experiments(TableQuery("ws", ""), 0, 50))[1] == 5
    assert (await store.list_experiments(TableQuery("nobody", ""), 0, 50))[1] == 0


async def test_nested_projects_exist_with_their_parents(store: MongoMetadataStore) -> None:
    await store.touch_project("ws", "a/b/c", 5.0)
    await store.touch_project("ws", "a/b/c", 7.0)
    paths = sorted([d["path"] async for d in store.db.projects.find({"workspace": "ws"})])
    assert paths == ["a", "a/b", "a/b/c"]
    leaf = await store.db.projects.find_one({"_id": "ws/a/b/c"})
    assert leaf is not None and leaf["updated_at"] == 7.0 and leaf["created_at"] == 5.0


async def test_keys_are_found_by_hash_only(store: MongoMetadataStore) -> None:
    await store.ensure_key(hash_api_key("tl_abc"), "ws", "admin")
    await store.ensure_key(hash_api_key("tl_abc"), "ws", "admin")  # idempotent
    doc = await store.find_key(hash_api_key("tl_abc"))
    assert doc is not None and doc["workspace"] == "ws" and "tl_abc" not in str(doc)
    assert await store.find_key(hash_api_key("tl_abd")) is None
    assert await store.db.api_keys.count_documents({}) == 1


async def test_migrations_are_recorded_once(store: MongoMetadataStore) -> None:
    assert await store.migrate() == []
    assert [d["_id"] async for d in store.db["migrations"].find({})] == [
        "m0001_indexes",
        "m0002_members_projects",
        "m0003_project_columns",
        "m0004_views",
    ]


async def test_saved_views_list_by_project_without_the_deleted_with_the_default(store: MongoMetadataStore) -> None:
    def save(name: str, state: str | None, seq: int, project: str = "a/b") -> Mutation:
        return lambda d: domain.apply_view(d, "ws", project, name, state, "ann", float(seq), seq)

    await store.mutate_view("ws", "a/b", "Zeta", save("Zeta", "order=name", 1))
    await store.mutate_view("ws", "a/b", "alpha", save("alpha", "filter=x", 2))
    await store.mutate_view("ws", "a/b", "gone", save("gone", "q", 3))
    await store.mutate_view("ws", "a/b", "gone", save("gone", None, 4))  # deleted: a tombstone
    await store.mutate_view("ws", "a/b", "gone", save("gone", "q", 3))  # a late older save changes nothing
    await store.mutate_view("ws", "a/bc", "other project", save("other project", "", 5, "a/bc"))
    await store.mutate_project("ws", "a/b", lambda d: domain.apply_default_view(d, "ws", "a/b", "alpha", 6.0, 6))
    views, default = await store.list_views("ws", "a/b")
    assert [(v["name"], v["state"]) for v in views] == [("alpha", "filter=x"), ("Zeta", "order=name")]
    assert default == "alpha"
    assert await store.list_views("other-ws", "a/b") == ([], None)
    await store.mutate_project("ws", "a/b", lambda d: domain.apply_default_view(d, "ws", "a/b", "gone", 7.0, 7))
    assert (await store.list_views("ws", "a/b"))[1] is None  # a default that no longer exists is none


async def test_public_projects_cover_nested_ones_and_gate_reads_by_id(store: MongoMetadataStore) -> None:
    shown, hidden = new_id(), new_id()
    await mutate(store, shown, lambda d: domain.apply_created(d, shown, "ws", created("a/b"), 1.0, 1))
    await mutate(store, hidden, lambda d: domain.apply_created(d, hidden, "ws", created("c"), 1.0, 2))
    for path in ("a/b", "c"):
        await store.touch_project("ws", path, 1.0)
    assert await store.public_paths("ws") == set()
    edit = events_pb2.ProjectEdited(project="a", public=True)
    await store.mutate_project("ws", "a", lambda d: domain.apply_project_edited(d, "ws", edit, 2.0, 10))
    stale = events_pb2.ProjectEdited(project="a", public=False)  # an older stream sequence loses
    await store.mutate_project("ws", "a", lambda d: domain.apply_project_edited(d, "ws", stale, 2.0, 9))
    assert await store.public_paths("ws") == {"a", "a/b"}
    assert await store.get_experiment("", shown, public_only=True) is not None
    assert await store.get_experiment("", hidden, public_only=True) is None
    assert await store.get_experiment("", hidden) is None  # no workspace and not public: nothing
    docs, total = await store.list_experiments(TableQuery("ws", among=sorted(await store.public_paths("ws"))), 0, 50)
    assert [d["_id"] for d in docs] == [shown] and total == 1
    await store.touch_project("ws", "a", 5.0)  # a touch after the edit keeps the setting
    assert await store.public_paths("ws") == {"a", "a/b"}


async def test_members_join_change_role_and_leave_by_stream_order(store: MongoMetadataStore) -> None:
    def member(role: str | None, seq: int) -> Mutation:
        return lambda d: domain.apply_member(d, "ws", "ann", role, float(seq), seq)

    await store.mutate_member("ws", "ann", member("member", 5))
    await store.mutate_member("ws", "ann", member("admin", 3))  # older: ignored
    found = await store.get_member("ws", "ann")
    assert found is not None and found["role"] == "member"
    await store.mutate_member("ws", "ann", member(None, 7))
    assert await store.get_member("ws", "ann") is None and await store.list_members("ws") == []
    await store.mutate_member("ws", "ann", member("viewer", 8))
    assert [(m["user"], m["role"]) for m in await store.list_members("ws")] == [("ann", "viewer")]


# -- nx-27017's known defects: Tracklane never relies on these operations -------------------------
@pytest.fixture
async def raw(mongo_url: str) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url, directConnection=True)
    yield client
    await client.close()


async def test_nx_defect_nan_cannot_be_stored(raw: AsyncMongoClient[dict[str, object]]) -> None:
    """Why ingestion refuses NaN/Inf and documents never hold them."""
    coll = raw["d" + uuid.uuid4().hex[:8]].c
    try:
        await coll.insert_one({"_id": 1, "v": float("nan")})
    except PyMongoError:
        return  # nx-27017 refuses it: "Invalid JSON document"
    stored = await coll.find_one({"_id": 1})
    assert stored is not None  # a real MongoDB stores NaN; fine, we never write it either


async def test_nx_defect_push_of_subdocument(raw: AsyncMongoClient[dict[str, object]]) -> None:
    """Why the projections use read-modify-write instead of $push of sub-documents."""
    coll = raw["d" + uuid.uuid4().hex[:8]].c
    await coll.insert_one({"_id": 1, "items": []})
    await coll.update_one({"_id": 1}, {"$push": {"items": {"a": 1}}})
    doc = await coll.find_one({"_id": 1})
    assert doc is not None
    items = doc["items"]
    assert isinstance(items, list) and len(items) == 1
    # On nx-27017 the sub-document comes back as a JSON string; on MongoDB as a dict.
    assert items[0] in ({"a": 1}, '{"a": 1}', '{"a":1}')


async def test_nx_defect_compound_group_keys(raw: AsyncMongoClient[dict[str, object]]) -> None:
    """One reason counts and groups come from the ClickHouse table index, never a $group: nx-27017
    takes a compound $group _id literally (every document falls into one group); MongoDB groups by
    the pair."""
    coll = raw["d" + uuid.uuid4().hex[:8]].c
    await coll.insert_many([{"_id": i, "p": "a" if i < 3 else "b", "x": i == 1} for i in range(5)])
    rows = [r async for r in await coll.aggregate([{"$group": {"_id": {"p": "$p", "x": "$x"}, "n": {"$sum": 1}}}])]
    assert len(rows) in (1, 3)  # nx-27017: 1 literal group; MongoDB: (a,False), (a,True), (b,False)
    single = [r async for r in await coll.aggregate([{"$group": {"_id": "$p", "n": {"$sum": 1}}}])]
    assert sorted((r["_id"], r["n"]) for r in single) == [("a", 3), ("b", 2)]


async def test_nx_defect_not_operator(raw: AsyncMongoClient[dict[str, object]]) -> None:
    """Why the query language compiles to $nin/$ne (its MongoDB form, which the table index
    translates): nx-27017 does not implement $not."""
    coll = raw["d" + uuid.uuid4().hex[:8]].c
    await coll.insert_many([{"_id": i, "s": "x" if i else "y"} for i in range(3)])
    try:
        rows = [d["_id"] async for d in coll.find({"s": {"$not": {"$in": ["x"]}}})]
    except PyMongoError:
        rows = None  # nx-27017: "Operator '$not' is not currently implemented"
    assert rows in (None, [0])
    assert [d["_id"] async for d in coll.find({"s": {"$nin": ["x"]}})] == [0]


async def test_list_projects_counts(store: MongoMetadataStore) -> None:
    for i, (project, archived) in enumerate([("p/a", False), ("p/a", False), ("p/a", True), ("p", False)]):
        exp = new_id()
        await store.touch_project("ws", project, 1.0)
        await mutate(
            store, exp, lambda d, e=exp, p=project, t=float(i): domain.apply_created(d, e, "ws", created(p), t, 1)
        )
        if archived:
            edit = events_pb2.ExperimentEdited(archived=True)
            await mutate(store, exp, lambda d, e=exp, x=edit: domain.apply_edited(d, e, "ws", x, 9.0, 2))
    rows = {r["path"]: r for r in await store.list_projects("ws")}
    assert (rows["p/a"]["experiments"], rows["p/a"]["archived_experiments"], rows["p/a"]["last_update"]) == (2, 1, 9.0)
    assert (rows["p"]["experiments"], rows["p"]["archived_experiments"]) == (1, 0)
    assert await store.list_projects("nobody") == []


async def test_the_table_index_is_rebuilt_from_the_documents(store: MongoMetadataStore) -> None:
    """A new index version, or a lost ClickHouse directory: the documents rebuild it at start."""
    ids = [new_id() for _ in range(5)]
    for i, exp in enumerate(ids):  # documents only, as if the index had been lost
        await store.mutate_experiment(
            exp, lambda d, e=exp, t=float(i): domain.apply_created(d, e, "ws", created("p"), t, 1)
        )
    assert await store.list_experiments(TableQuery("ws", ""), 0, 50) == ([], 0)
    progress: list[tuple[int, int]] = []
    assert await store.sync_table(lambda done, of: progress.append((done, of))) == 5
    docs, total = await store.list_experiments(TableQuery("ws", ""), 0, 50)
    assert total == 5 and [d["_id"] for d in docs] == ids[::-1]
    assert await store.sync_table() == 0  # in step: nothing to do


async def test_project_columns_are_noted_once_and_listed_per_project(store: MongoMetadataStore) -> None:
    await store.note_columns("ws", "a", {("metrics", "loss/train"), ("params", "Args/lr")})
    store._noted_columns.clear()  # as a restarted process would: the second note finds duplicates
    await store.note_columns("ws", "a", {("metrics", "loss/train"), ("tags", "team")})
    await store.note_columns("ws", "b", {("metrics", "acc")})
    await store.note_columns("other", "a", {("metrics", "secret")})
    assert await store.list_columns("ws", ["a"], 100) == [
        ("metrics", "loss/train"), ("params", "Args/lr"), ("tags", "team"),
    ]  # fmt: skip
    assert await store.list_columns("ws", None, 100) == [
        ("metrics", "acc"), ("metrics", "loss/train"), ("params", "Args/lr"), ("tags", "team"),
    ]  # fmt: skip
    assert len(await store.list_columns("ws", None, 2)) == 2
    assert await store.db.project_columns.count_documents({}) == 5


async def test_the_columns_migration_fills_them_from_stored_experiments(store: MongoMetadataStore) -> None:
    exp = new_id()
    await mutate(store, exp, lambda d: domain.apply_created(d, exp, "ws", created("p"), 1.0, 1))
    await mutate(
        store, exp, lambda d: domain.apply_properties(d, exp, "ws", events_pb2.PropertiesSet(set={"owner": "x"}), 2)
    )
    await m0003_project_columns.up(store.db)
    await m0003_project_columns.up(store.db)  # a second run changes nothing
    assert await store.list_columns("ws", ["p"], 10) == [("tags", "owner")]
