"""Read-side figures: the experiment table over many experiments (filter + sort by a metric, a
page of 50) and ``/widget/`` scalar charts of 1 and 10 experiments."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from tracklane_proto import events_pb2

from devstack import Stack
from services.metadata import domain
from services.metadata.settings import Settings as MetadataSettings

CHUNK = 1000


def _doc(i: int, workspace: str, project: str, now: float) -> domain.Doc:
    """An experiment document exactly as the projection builds it (created, with a metric)."""
    exp = uuid.uuid4().hex
    created = events_pb2.ExperimentCreated(
        project=project, name=f"run-{i}", tags=["bench"], user="bench", started_at=now
    )
    doc = domain.apply_created(None, exp, workspace, created, now, i + 1)
    loss = random.random()  # noqa: S311 (bench data)
    summary = domain.SeriesSummary("loss", "val", loss, 99, loss * 0.9, loss * 1.5)
    return domain.apply_scalars(doc, exp, workspace, 1, [summary], now)


async def seed_experiments(stack: Stack, n: int, project: str, report: Callable[[str], None]) -> None:
    """Inserts ``n`` experiment documents straight into MongoDB (the write path is measured by the
    ingest figures; this one measures the table's query)."""
    client: AsyncMongoClient[domain.Doc] = AsyncMongoClient(stack.mongodb_url, directConnection=True)
    db = client[MetadataSettings.from_env().database]
    try:
        now = time.time()
        for start in range(0, n, CHUNK):
            docs = [_doc(i, "default", project, now + i * 1e-3) for i in range(start, min(n, start + CHUNK))]
            for d in docs:
                d["version"] = 1
            await db.experiments.insert_many(docs)
            if (start // CHUNK) % 10 == 0:
                report(f"table: {start + len(docs):,} of {n:,} experiments seeded")
        with contextlib.suppress(DuplicateKeyError):
            await db.projects.insert_one(domain.new_project("default", project, now))
    finally:
        await client.close()


def seed(stack: Stack, n: int, project: str, report: Callable[[str], None]) -> float:
    """Seeds the documents, then restarts the metadata service, which brings its table index in
    step with them before it serves again (the path of an upgrade or a lost index); returns how
    long that rebuild took, in seconds."""
    asyncio.run(seed_experiments(stack, n, project, report))
    stack.stop_one("metadata")
    started = time.perf_counter()
    stack.start_service("metadata", timeout=1800)
    return time.perf_counter() - started


def timed(gw: httpx.Client, url: str, params: dict[str, Any], repeats: int) -> list[float]:
    gw.get(url, params=params).raise_for_status()  # warm
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        gw.get(url, params=params).raise_for_status()
        out.append(time.perf_counter() - t)
    return out


def table_params(project: str) -> dict[str, Any]:
    return {
        "project": project,
        "filter": "metrics.loss/val < 0.5 AND attributes.status = 'running'",
        "order_by": "metrics.loss/val.min",
        "columns": "metrics.loss/val.min",
        "page_size": 50,
    }
