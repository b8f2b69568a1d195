"""The metadata store: a small interface and its MongoDB adapter (PyMongo's async API).

It runs against a real MongoDB (``TRACKLANE_MONGODB_URL``) and against nx-27017, the
MongoDB-wire server over SQLite that the embedded default uses. Everything here stays inside the
subset both answer the same way: no ``$push`` of sub-documents, no ``$setOnInsert``, no change
streams, no NaN in documents. Writes are read-modify-write guarded by a ``version`` field, which
both servers honour, and the rules in ``domain.py`` make any replay converge.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import time
from collections.abc import Callable
from typing import Any, Protocol

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.metadata import migrations
from services.metadata.domain import Doc, member_id, new_key, new_project, project_id, visible

Mutation = Callable[[Doc | None], Doc]
# The experiment table never needs the heavy parts of a document.
LIST_PROJECTION = {"execution": 0, "configurations": 0, "artifacts": 0}


class MetadataStore(Protocol):
    async def mutate_experiment(self, experiment_id: str, change: Mutation) -> Doc: ...
    async def get_experiment(self, workspace: str, experiment_id: str, *, public_only: bool = False) -> Doc | None: ...
    async def list_experiments(
        self,
        workspace: str,
        project: str,
        skip: int,
        limit: int,
        *,
        archived: bool = False,
        where: Doc | None = None,
        sort: list[tuple[str, int]] | None = None,
        deleted: bool = False,
        among: list[str] | None = None,
    ) -> tuple[list[Doc], int]: ...
    async def group_experiments(
        self,
        workspace: str,
        project: str,
        path: str,
        *,
        archived: bool = False,
        where: Doc | None = None,
        deleted: bool = False,
        among: list[str] | None = None,
    ) -> list[tuple[Any, int]]: ...
    async def touch_project(self, workspace: str, path: str, at: float) -> None: ...
    async def stale_running(self, seen_before: float, limit: int = 500) -> list[Doc]: ...
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
    async def list_embeds(self, workspace: str, embed_id: str = "") -> list[Doc]: ...
    async def ensure_key(self, key_hash: str, workspace: str, role: str) -> None: ...
    async def close(self) -> None: ...


class ConflictError(RuntimeError):
    """An optimistic write lost too many races in a row."""


class MongoMetadataStore:
    """:class:`MetadataStore` over any MongoDB-wire server."""

    def __init__(self, url: str, database: str) -> None:
        self.client: AsyncMongoClient[Doc] = AsyncMongoClient(
            url, directConnection=True, serverSelectionTimeoutMS=10_000
        )
        self.db = self.client[database]

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

    async def close(self) -> None:
        await self.client.close()

    async def _mutate(self, collection: str, doc_id: str, change: Mutation) -> Doc:
        """Read, change, write back only if nobody wrote in between (else try again)."""
        coll = self.db[collection]
        for _ in range(50):
            current = await coll.find_one({"_id": doc_id})
            new = change(current)
            if current is None:
                new["version"] = 1
                try:
                    await coll.insert_one(new)
                except DuplicateKeyError:
                    continue
                return new
            if new is current:  # the change left it alone
                return current
            new["version"] = current.get("version", 0) + 1
            result = await coll.replace_one({"_id": doc_id, "version": current.get("version", 0)}, new)
            if result.matched_count == 1:
                return new
        raise ConflictError(f"{collection} {doc_id}: too many concurrent updates")

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
        # One single-key $group per archived state: nx-27017 takes a compound _id literally.
        counts: dict[tuple[str, bool], Doc] = {}
        for in_archive in (False, True):
            pipeline: list[Doc] = [
                {
                    "$match": {
                        "workspace": workspace,
                        "created": True,
                        "cleared": False,
                        "deleted": False,
                        "archived": in_archive,
                    }
                },
                {"$group": {"_id": "$project", "n": {"$sum": 1}, "last": {"$max": "$updated_at"}}},
            ]
            async for row in await self.db.experiments.aggregate(pipeline):
                counts[(row["_id"], in_archive)] = row
        out = []
        docs = [p async for p in self.db.projects.find({"workspace": workspace})]
        marked = {p["path"] for p in docs if p.get("public")}
        for p in docs:
            active, archived = counts.get((p["path"], False)), counts.get((p["path"], True))
            lasts = [r["last"] for r in (active, archived) if r] + [p["updated_at"]]
            out.append(
                {
                    "path": p["path"],
                    "experiments": active["n"] if active else 0,
                    "archived_experiments": archived["n"] if archived else 0,
                    "created_at": p["created_at"],
                    "last_update": max(lasts),
                    "public": visible(p["path"], marked),
                    "description": p.get("description", ""),
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

    @staticmethod
    def _scope(
        workspace: str, project: str, archived: bool, where: Doc | None, deleted: bool, among: list[str] | None
    ) -> Doc:
        """The caller's workspace always (and only ``among`` these projects when given), whatever
        the user's filter says."""
        query: Doc = {"workspace": workspace, "created": True, "cleared": False, "deleted": deleted}
        if not deleted:
            query["archived"] = archived
        if among is not None:
            query["project"] = {"$in": [p for p in among if not project or p == project]}
        elif project:
            query["project"] = project
        return {"$and": [query, where]} if where else query

    async def list_experiments(
        self,
        workspace: str,
        project: str,
        skip: int,
        limit: int,
        *,
        archived: bool = False,
        where: Doc | None = None,
        sort: list[tuple[str, int]] | None = None,
        deleted: bool = False,
        among: list[str] | None = None,
    ) -> tuple[list[Doc], int]:
        query = self._scope(workspace, project, archived, where, deleted, among)
        total = await self.db.experiments.count_documents(query)
        order = [*(sort or [("created_at", -1)]), ("_id", 1)]
        cursor = self.db.experiments.find(query, LIST_PROJECTION).sort(order).skip(skip).limit(limit)
        return [d async for d in cursor], total

    async def stale_running(self, seen_before: float, limit: int = 500) -> list[Doc]:
        """Running experiments whose client was last heard of before ``seen_before``."""
        query = {"status": "running", "created": True, "cleared": False, "last_seen": {"$lt": seen_before}}
        cursor = self.db.experiments.find(query, {"_id": 1, "workspace": 1, "status_seq": 1, "last_seen": 1})
        return [d async for d in cursor.limit(limit)]

    async def group_experiments(
        self,
        workspace: str,
        project: str,
        path: str,
        *,
        archived: bool = False,
        where: Doc | None = None,
        deleted: bool = False,
        among: list[str] | None = None,
    ) -> list[tuple[Any, int]]:
        """(value, count) of ``path`` over the filtered experiments, most common first."""
        pipeline: list[Doc] = [
            {"$match": self._scope(workspace, project, archived, where, deleted, among)},
            {"$group": {"_id": f"${path}", "n": {"$sum": 1}}},
        ]
        rows = [(r["_id"], int(r["n"])) async for r in await self.db.experiments.aggregate(pipeline)]
        return sorted(rows, key=lambda r: (-r[1], str(r[0])))

    async def touch_project(self, workspace: str, path: str, at: float) -> None:
        # Nested projects: "a/b/c" also makes "a" and "a/b" exist.
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            try:
                await self.db.projects.insert_one(new_project(workspace, sub, at))
            except DuplicateKeyError:
                # $inc version: a concurrent read-change-write of the project then retries
                await self.db.projects.update_one(
                    {"_id": project_id(workspace, sub), "updated_at": {"$lt": at}},
                    {"$set": {"updated_at": at}, "$inc": {"version": 1}},
                )

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
