"""The metadata store: a small interface and its MongoDB adapter (PyMongo's async API).

It runs against a real MongoDB (``TRACKLANE_MONGODB_URL``) and against nx-27017, the
MongoDB-wire server over SQLite that the embedded default uses. Experiment table queries (filter,
sort, count, group) go to the ClickHouse index of :mod:`services.metadata.table`, which the
projection writes beside the documents; the documents of a page are then read by id. Everything here stays inside the
subset both answer the same way (see :mod:`services.common.mongo`, whose read-modify-write every
change goes through), and the rules in ``domain.py`` make any replay converge.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import pkgutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.common import mongo
from services.common.mongo import Mutation, insert_new
from services.metadata import migrations
from services.metadata.domain import (
    Doc,
    column_doc,
    member_id,
    new_key,
    new_project,
    project_id,
    view_id,
    visible,
)
from services.metadata.table import ExperimentTable, TableQuery

T = TypeVar("T")
SYNC_BATCH = 2000
# The experiment table never needs the heavy parts of a document.
LIST_PROJECTION = {"execution": 0, "configurations": 0, "artifacts": 0}
# How many column ids (see ``note_columns``) a process remembers having written.
NOTED_COLUMNS_MEMORY = 200_000


class MetadataStore(Protocol):
    async def mutate_experiment(self, experiment_id: str, change: Mutation) -> Doc: ...
    async def index_experiments(self, docs: list[Doc]) -> None: ...
    async def get_experiment(self, workspace: str, experiment_id: str, *, public_only: bool = False) -> Doc | None: ...
    async def list_experiments(self, q: TableQuery, skip: int, limit: int) -> tuple[list[Doc], int]: ...
    async def group_experiments(self, q: TableQuery, path: str) -> list[tuple[Any, int]]: ...
    async def touch_project(self, workspace: str, path: str, at: float) -> None: ...
    async def stale_running(self, seen_before: float, limit: int = 500) -> list[Doc]: ...
    async def note_columns(self, workspace: str, project: str, names: set[tuple[str, str]]) -> None: ...
    async def list_columns(self, workspace: str, projects: list[str] | None, limit: int) -> list[tuple[str, str]]: ...
    async def find_key(self, key_hash: str) -> Doc | None: ...
    async def mutate_key(self, key_id: str, change: Mutation) -> Doc: ...
    async def list_keys(self, workspace: str) -> list[Doc]: ...
    async def ensure_workspace(self, workspace: str, name: str, at: float) -> None: ...
    async def get_workspace(self, workspace: str) -> Doc | None: ...
    async def list_projects(self, workspace: str) -> list[Doc]: ...
    async def mutate_project(self, workspace: str, path: str, change: Mutation) -> Doc: ...
    async def public_paths(self, workspace: str) -> set[str]: ...
    async def mutate_member(self, workspace: str, user: str, change: Mutation) -> Doc: ...
    async def get_member(self, workspace: str, user: str) -> Doc | None: ...
    async def list_members(self, workspace: str) -> list[Doc]: ...
    async def mutate_workspace(self, workspace: str, change: Mutation) -> Doc: ...
    async def mutate_embed(self, embed_id: str, change: Mutation) -> Doc: ...
    async def mutate_view(self, workspace: str, project: str, name: str, change: Mutation) -> Doc: ...
    async def list_views(self, workspace: str, project: str) -> tuple[list[Doc], str | None]: ...
    async def list_embeds(self, workspace: str, embed_id: str = "") -> list[Doc]: ...
    async def ensure_key(self, key_hash: str, workspace: str, role: str) -> None: ...
    async def reset(self) -> None: ...
    async def close(self) -> None: ...


# Every collection of the read model (the reporting service keeps its own in the same database).
COLLECTIONS = (
    "experiments", "projects", "project_columns", "workspaces", "api_keys", "members", "views", "embeds", "migrations",
)  # fmt: skip


class MongoMetadataStore:
    """:class:`MetadataStore` over any MongoDB-wire server."""

    def __init__(self, url: str, database: str, table: ExperimentTable) -> None:
        self.client: AsyncMongoClient[Doc] = mongo.connect(url)
        self.db = self.client[database]
        self.table = table
        # chDB is one embedded engine: its calls go one at a time on one thread; a server takes a pool.
        self._noted_columns: set[str] = set()
        self._table_calls = ThreadPoolExecutor(max_workers=1 if table.is_embedded else 4, thread_name_prefix="table")

    async def _on_table(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._table_calls, functools.partial(fn, *args, **kwargs)
        )

    async def migrate(self) -> list[str]:
        done = {d["_id"] async for d in self.db["migrations"].find({})}
        applied = []
        for info in sorted(pkgutil.iter_modules(migrations.__path__), key=lambda m: m.name):
            if info.name in done:
                continue
            module = importlib.import_module(f"{migrations.__name__}.{info.name}")
            await module.up(self.db)
            await self.db["migrations"].insert_one({"_id": info.name, "applied_at": time.time()})
            applied.append(info.name)
        return applied

    async def reset(self) -> None:
        """Drops the read model — its collections and the table index — and makes it again, empty
        (a replay rebuilds it from the log)."""
        # The bootstrap keys and their workspaces come from configuration, not from the log: kept.
        keys = [d async for d in self.db.api_keys.find({"name": "bootstrap", "_id": {"$regex": "^boot"}})]
        workspaces = [d async for d in self.db.workspaces.find({"_id": {"$in": [k["workspace"] for k in keys]}})]
        for name in COLLECTIONS:
            await self.db.drop_collection(name)
        await self._on_table(self.table.reset)
        self._noted_columns.clear()
        await self.migrate()
        for collection, docs in (("workspaces", workspaces), ("api_keys", keys)):
            if docs:
                await self.db[collection].insert_many(docs)

    async def close(self) -> None:
        await self.client.close()
        self._table_calls.shutdown(wait=True)
        self.table.close()

    async def index_experiments(self, docs: list[Doc]) -> None:
        """Writes the table rows of documents just written (one insert for a projection batch)."""
        await self._on_table(self.table.upsert, docs)

    async def sync_table(self, report: Callable[[int, int], None] | None = None) -> int:
        """Builds the table index from the documents when it does not hold as many experiments as
        MongoDB (a new index version, a lost ClickHouse directory, an upgrade); returns the rows
        written. Rows already there are rewritten with the same version, which changes nothing."""
        expected = await self.db.experiments.estimated_document_count()
        if await self._on_table(self.table.count_all) == expected:
            return 0
        written, batch = 0, []
        async for doc in self.db.experiments.find({}, LIST_PROJECTION).batch_size(SYNC_BATCH):
            batch.append(doc)
            if len(batch) == SYNC_BATCH:
                written += await self._on_table(self.table.upsert, batch)
                batch = []
                if report:
                    report(written, expected)
        written += await self._on_table(self.table.upsert, batch)
        return written

    async def _mutate(self, collection: str, doc_id: str, change: Mutation) -> Doc:
        return await mongo.mutate(self.db[collection], doc_id, change)

    async def mutate_experiment(self, experiment_id: str, change: Mutation) -> Doc:
        return await self._mutate("experiments", experiment_id, change)

    async def mutate_key(self, key_id: str, change: Mutation) -> Doc:
        return await self._mutate("api_keys", key_id, change)

    async def list_keys(self, workspace: str) -> list[Doc]:
        cursor = self.db.api_keys.find({"workspace": workspace, "created": True}).sort([("created_at", 1), ("_id", 1)])
        return [d async for d in cursor]

    async def ensure_workspace(self, workspace: str, name: str, at: float) -> None:
        with contextlib.suppress(DuplicateKeyError):  # it exists: creation is idempotent
            await self.db.workspaces.insert_one({"_id": workspace, "name": name, "created_at": at, "version": 0})

    async def get_workspace(self, workspace: str) -> Doc | None:
        return await self.db.workspaces.find_one({"_id": workspace})

    async def list_projects(self, workspace: str) -> list[Doc]:
        """Every project of the workspace with ``experiments``, ``archived_experiments`` and
        ``last_update``."""
        counts = await self._on_table(self.table.project_counts, workspace)
        out = []
        docs = [p async for p in self.db.projects.find({"workspace": workspace})]
        marked = {p["path"] for p in docs if p.get("public")}
        for p in docs:
            active, archived = counts.get((p["path"], False)), counts.get((p["path"], True))
            if p.get("renamed_to") and not active and not archived:
                continue  # what a rename left behind (MLflow's rename moves every experiment out)
            lasts = [r[1] for r in (active, archived) if r] + [p["updated_at"]]
            out.append(
                {
                    "path": p["path"],
                    "experiments": active[0] if active else 0,
                    "archived_experiments": archived[0] if archived else 0,
                    "created_at": p["created_at"],
                    "last_update": max(lasts),
                    "public": visible(p["path"], marked),
                    "description": p.get("description", ""),
                    "archived": p.get("archived", False),
                    "mlflow_id": p.get("mlflow_id", ""),
                }
            )
        return out

    async def mutate_project(self, workspace: str, path: str, change: Mutation) -> Doc:
        return await self._mutate("projects", project_id(workspace, path), change)

    async def public_paths(self, workspace: str) -> set[str]:
        """Every project path of the workspace readable without a key (marked, or nested in one)."""
        docs = [p async for p in self.db.projects.find({"workspace": workspace}, {"path": 1, "public": 1})]
        marked = {p["path"] for p in docs if p.get("public")}
        return {p["path"] for p in docs if marked and visible(p["path"], marked)}

    async def mutate_member(self, workspace: str, user: str, change: Mutation) -> Doc:
        return await self._mutate("members", member_id(workspace, user), change)

    async def get_member(self, workspace: str, user: str) -> Doc | None:
        return await self.db.members.find_one({"_id": member_id(workspace, user), "active": True})

    async def mutate_workspace(self, workspace: str, change: Mutation) -> Doc:
        return await self._mutate("workspaces", workspace, change)

    async def mutate_embed(self, embed_id: str, change: Mutation) -> Doc:
        return await self._mutate("embeds", embed_id, change)

    async def mutate_view(self, workspace: str, project: str, name: str, change: Mutation) -> Doc:
        return await self._mutate("views", view_id(workspace, project, name), change)

    async def list_views(self, workspace: str, project: str) -> tuple[list[Doc], str | None]:
        """The project's saved views by name, and the name of its default one."""
        views = [d async for d in self.db.views.find({"workspace": workspace, "project": project, "deleted": False})]
        views.sort(key=lambda d: d["name"].lower())
        doc = await self.db.projects.find_one({"_id": project_id(workspace, project)}, {"default_view": 1})
        default = (doc or {}).get("default_view")
        return views, default if any(v["name"] == default for v in views) else None

    async def list_embeds(self, workspace: str, embed_id: str = "") -> list[Doc]:
        query: Doc = {"workspace": workspace, "created": True}
        if embed_id:
            query["_id"] = embed_id
        return [d async for d in self.db.embeds.find(query).sort([("created_at", 1), ("_id", 1)])]

    async def list_members(self, workspace: str) -> list[Doc]:
        cursor = self.db.members.find({"workspace": workspace, "active": True}).sort([("user", 1)])
        return [d async for d in cursor]

    async def get_experiment(self, workspace: str, experiment_id: str, *, public_only: bool = False) -> Doc | None:
        """The experiment of ``workspace``; with ``public_only`` (workspace may then be empty)
        only when its project is public, and never a soft-deleted one."""
        query: Doc = {"_id": experiment_id, "created": True, "cleared": False}
        if workspace:
            query["workspace"] = workspace
        elif not public_only:
            return None
        doc = await self.db.experiments.find_one(query)
        if doc is not None and public_only:
            public = doc["project"] in await self.public_paths(doc["workspace"]) and not doc.get("deleted")
            return doc if public else None
        return doc

    async def list_experiments(self, q: TableQuery, skip: int, limit: int) -> tuple[list[Doc], int]:
        """A page of the experiment table: ids and total from the index, documents by id."""
        ids, total = await self._on_table(self.table.page, q, skip, limit)
        if not ids:
            return [], total
        found = {d["_id"]: d async for d in self.db.experiments.find({"_id": {"$in": ids}}, LIST_PROJECTION)}
        return [found[i] for i in ids if i in found], total

    async def stale_running(self, seen_before: float, limit: int = 500) -> list[Doc]:
        """Running experiments whose client was last heard of before ``seen_before`` (found by the
        index, confirmed on the documents)."""
        ids = await self._on_table(self.table.stale_running, seen_before, limit)
        if not ids:
            return []
        fields = {"_id": 1, "workspace": 1, "status_seq": 1, "last_seen": 1, "status": 1}
        cursor = self.db.experiments.find({"_id": {"$in": ids}}, fields)
        return [d async for d in cursor if d.get("status") == "running" and d.get("last_seen", 0.0) < seen_before]

    async def group_experiments(self, q: TableQuery, path: str) -> list[tuple[Any, int]]:
        """(value, count) of ``path`` over the experiments of ``q``, most common first."""
        return await self._on_table(self.table.groups, q, path)

    async def touch_project(self, workspace: str, path: str, at: float) -> None:
        # Nested projects: "a/b/c" also makes "a" and "a/b" exist.
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            try:
                await self.db.projects.insert_one(new_project(workspace, sub, at))
            except DuplicateKeyError:
                # The earliest and latest times whatever the order events come in (a batch applies
                # its access events first; a replay's batches are larger than live ones). $inc
                # version: a concurrent read-change-write of the project then retries. ($and: with
                # "_id" beside "$or", nx-27017 updates another document when this one fails the $or.)
                later = {"$or": [{"updated_at": {"$lt": at}}, {"created_at": {"$gt": at}}]}
                await self.db.projects.update_one(
                    {"$and": [{"_id": project_id(workspace, sub)}, later]},
                    {"$max": {"updated_at": at}, "$min": {"created_at": at}, "$inc": {"version": 1}},
                )

    async def note_columns(self, workspace: str, project: str, names: set[tuple[str, str]]) -> None:
        """Remembers that experiments of ``project`` have these columns: a document per column,
        whose id makes a second note of it a no-op (so replays and redeliveries change nothing).
        A process remembers what it wrote, so a steady run costs no write per batch."""
        docs = (column_doc(workspace, project, kind, name) for kind, name in names)
        fresh = [c for c in docs if c["_id"] not in self._noted_columns]
        if not fresh:
            return
        await insert_new(self.db.project_columns, fresh)
        if len(self._noted_columns) > NOTED_COLUMNS_MEMORY:
            self._noted_columns.clear()
        self._noted_columns.update(c["_id"] for c in fresh)

    async def list_columns(self, workspace: str, projects: list[str] | None, limit: int) -> list[tuple[str, str]]:
        """(kind, name) of the columns seen in ``projects`` (every project when None), at most
        ``limit`` of them."""
        query: Doc = {"workspace": workspace}
        if projects is not None:
            query["project"] = {"$in": projects}
        seen: set[tuple[str, str]] = set()
        async for c in self.db.project_columns.find(query, {"kind": 1, "name": 1}):
            seen.add((c["kind"], c["name"]))
            if len(seen) >= limit:
                break
        return sorted(seen)

    async def find_key(self, key_hash: str) -> Doc | None:
        return await self.db.api_keys.find_one({"hash": key_hash, "revoked": False, "created": True})

    async def ensure_key(self, key_hash: str, workspace: str, role: str) -> None:
        """The bootstrap key from configuration (TRACKLANE_API_KEY), applied at every start."""
        await self.ensure_workspace(workspace, workspace, time.time())
        if await self.db.api_keys.find_one({"hash": key_hash}) is None:
            doc = new_key("boot" + key_hash[:12], workspace)
            doc.update(created=True, hash=key_hash, hash_seq=0, role=role, name="bootstrap", created_at=time.time())
            with contextlib.suppress(DuplicateKeyError):  # a concurrent start created it
                await self.db.api_keys.insert_one(doc)
