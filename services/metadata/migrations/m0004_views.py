"""Saved views of a project's experiments (``views``), listed by workspace and project."""

from __future__ import annotations

from typing import Any


async def up(db: Any) -> None:
    await db.views.create_index([("workspace", 1), ("project", 1), ("name", 1)])
