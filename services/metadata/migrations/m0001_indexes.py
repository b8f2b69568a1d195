"""Indexes for the experiment table, projects and API keys."""

from __future__ import annotations

from typing import Any


async def up(db: Any) -> None:
    await db.experiments.create_index([("workspace", 1), ("project", 1), ("created_at", 1)])
    await db.projects.create_index([("workspace", 1), ("path", 1)])
    await db.api_keys.create_index([("hash", 1)], unique=True)
