"""The columns seen in each project (``project_columns``: metric series, hyperparameters, user
properties), which the column chooser and the filter's autocomplete offer; filled from the
experiments already stored."""

from __future__ import annotations

from typing import Any

from services.metadata.domain import column_doc, column_names


async def up(db: Any) -> None:
    from services.common.mongo import insert_new

    await db.project_columns.create_index([("workspace", 1), ("project", 1)])
    batch: dict[str, dict[str, Any]] = {}
    async for doc in db.experiments.find({"created": True}, {"execution": 0, "configurations": 0, "artifacts": 0}):
        for kind, name in column_names(doc):
            column = column_doc(doc["workspace"], doc["project"], kind, name)
            batch[column["_id"]] = column
        if len(batch) >= 1000:
            await insert_new(db.project_columns, list(batch.values()))
            batch.clear()
    if batch:
        await insert_new(db.project_columns, list(batch.values()))
