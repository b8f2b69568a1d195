"""The reporting store: reports and notes in MongoDB (any MongoDB-wire server: a real MongoDB, or
nx-27017 in the embedded default), written through :func:`services.common.mongo.mutate`."""

from __future__ import annotations

import re
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient

from services.common import mongo
from services.common.mongo import Doc, Mutation
from services.reporting.domain import report_id_of

SORTS = {"updated_at", "created_at", "name"}
LIST_PROJECTION = {"body": 0}


class ReportStore:
    def __init__(self, url: str, database: str) -> None:
        self.client: AsyncMongoClient[Doc] = mongo.connect(url)
        self.db = self.client[database]

    async def migrate(self) -> None:
        for field in ("updated_at", "created_at", "name_key"):
            await self.db.reports.create_index([("workspace", ASCENDING), ("archived", ASCENDING), (field, DESCENDING)])

    async def reset(self) -> None:
        """Drops the read model's collections and makes them again, empty."""
        for name in ("reports", "notes"):
            await self.db.drop_collection(name)
        await self.migrate()

    async def close(self) -> None:
        await self.client.close()

    async def mutate_report(self, workspace: str, report_id: str, change: Mutation) -> Doc:
        return await mongo.mutate(self.db.reports, report_id_of(workspace, report_id), change)

    async def mutate_note(self, workspace: str, target: str, change: Mutation) -> Doc:
        return await mongo.mutate(self.db.notes, report_id_of(workspace, target), change)

    async def get_report(self, workspace: str, report_id: str) -> Doc | None:
        doc = await self.db.reports.find_one({"_id": report_id_of(workspace, report_id)})
        return doc if doc is not None and doc.get("created") and not doc.get("deleted") else None

    async def get_note(self, workspace: str, target: str) -> Doc | None:
        return await self.db.notes.find_one({"_id": report_id_of(workspace, target)})

    async def list_reports(
        self,
        workspace: str,
        *,
        project: str = "",
        search: str = "",
        tags: list[str] | None = None,
        status: str = "",
        archived: bool = False,
        order_by: str = "-updated_at",
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Doc], int, list[str]]:
        """A page of reports (without bodies), their total, and the projects of this kind."""
        kind: dict[str, Any] = {"workspace": workspace, "created": True, "deleted": False, "archived": archived}
        query = dict(kind)
        if project:
            query["$or"] = [{"project": project}, {"project": {"$regex": f"^{re.escape(project)}/"}}]
        if search:
            text = {"$regex": re.escape(search), "$options": "i"}
            either = [{"name": text}, {"description": text}]
            query = {"$and": [query, {"$or": either}]} if "$or" in query else {**query, "$or": either}
        if status:
            query["published"] = status == "published"
        if tags:
            query["tag_names"] = {"$all": list(tags)}
        field = order_by.lstrip("-")
        if field not in SORTS:
            raise ValueError(f"order_by: one of {sorted(SORTS)}, '-' first to sort descending")
        direction = DESCENDING if order_by.startswith("-") else ASCENDING
        key = "name_key" if field == "name" else field
        total = await self.db.reports.count_documents(query)
        cursor = self.db.reports.find(query, LIST_PROJECTION).sort([(key, direction), ("_id", direction)])
        docs = [d async for d in cursor.skip(offset).limit(limit)]
        projects = sorted({d["project"] async for d in self.db.reports.find(kind, {"project": 1})})
        return docs, total, projects
