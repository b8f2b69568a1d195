"""Workspace members, and project and workspace documents that can be edited (visibility,
description, embed origins): they get the version that optimistic writes compare."""

from __future__ import annotations

from typing import Any


async def up(db: Any) -> None:
    await db.members.create_index([("workspace", 1), ("user", 1)])
    async for project in db.projects.find({}):
        if "version" not in project:  # touched before projects became editable documents
            fields = {"version": 0, "public": False, "public_seq": -1, "description": "", "description_seq": -1}
            await db.projects.update_one({"_id": project["_id"]}, {"$set": fields})
    async for workspace in db.workspaces.find({}):
        if "version" not in workspace:
            await db.workspaces.update_one({"_id": workspace["_id"]}, {"$set": {"version": 0}})
