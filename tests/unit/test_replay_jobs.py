"""The replay job's rules (who may take it, what survives an upgrade of its record, which batches
it may have applied before), and the statements that drop a read model's ClickHouse tables,
alone and on a cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any
from unittest.mock import AsyncMock, patch

from services.common.clickhouse_cluster import created, drop
from services.common.projections import REGISTRY, Positioned
from services.common.replay import LEASE_S, Consumer, Job
from services.metrics.store import migration_files
from tests.conftest import scalar_event


def test_a_job_is_claimed_when_requested_or_when_its_owner_went_quiet() -> None:
    job = Job(id="j", state="requested", requested_at=0.0)
    assert job.active and job.claimable("me", 100.0)
    job.state, job.owner, job.lease_at = "running", "other", 100.0
    assert not job.claimable("me", 100.0 + LEASE_S - 1)  # the owner is alive: wait
    assert job.claimable("me", 100.0 + LEASE_S + 1)  # it crashed: take over, resume
    assert job.claimable("other", 100.0)
    job.state = "live"
    assert not job.active and not job.claimable("me", 1e12)  # consuming again: nothing to take


def test_a_job_record_round_trips_and_ignores_fields_it_does_not_know() -> None:
    job = Job(id="j", state="running", requested_at=1.5, phase="archive", fed=42, gap=[3, 9])
    assert Job.decode(job.encode()) == job
    newer = job.encode().replace(b'"id"', b'"from_a_newer_release": 1, "id"')
    assert Job.decode(newer) == job


class Recording:
    def __init__(self) -> None:
        self.commands: list[str] = []

    def command(self, sql: str) -> Any:
        self.commands.append(sql)


def test_dropping_waits_for_each_table_and_reaches_every_node_of_a_cluster() -> None:
    names = [n for f in migration_files() for n in created(f.read_text())]
    assert names[:2] == ["scalars", "console"] and "scalar_blocks_mv" in names
    alone = Recording()
    drop(alone, ["scalar_blocks_mv", "scalars"], "")
    assert alone.commands == ["DROP TABLE IF EXISTS `scalar_blocks_mv` SYNC", "DROP TABLE IF EXISTS `scalars` SYNC"]
    cluster = Recording()
    drop(cluster, ["scalars"], "tl")
    assert cluster.commands == [
        "DROP TABLE IF EXISTS `scalars` ON CLUSTER 'tl' SYNC",
        "DROP TABLE IF EXISTS `scalars_local` ON CLUSTER 'tl' SYNC",
    ]


class _Archive:
    """Archived positions 1..n, each an event of the metrics projection's kinds."""

    def __init__(self, n: int) -> None:
        self.events = {p: scalar_event(p, [("m", "v", p, 1.0)]).SerializeToString() for p in range(1, n + 1)}

    async def last_position(self) -> int:
        return len(self.events)

    async def read(self, start: int, stop: int) -> AsyncIterator[list[tuple[int, bytes]]]:
        yield [(p, self.events[p]) for p in range(start, stop)]


async def _feed(job: Job, fail_once_at: int = 0) -> tuple[list[list[tuple[int, bool]]], list[int]]:
    """Feeds the archive of 10 positions to a recording projection in batches of 3: the batches
    it saw as (position, redelivered), and ``job.applying`` at each save."""
    seen: list[list[tuple[int, bool]]] = []
    saves: list[int] = []
    failing = [fail_once_at]

    async def archived(batch: Sequence[Positioned]) -> None:
        seen.append([(p.position, p.redelivered) for p in batch])
        if batch[-1].position in failing:
            failing.clear()
            raise RuntimeError("ClickHouse went away")

    async def save() -> None:
        saves.append(job.applying)

    consumer = Consumer(None, REGISTRY["metrics"], archived, archived, _Archive(10), feed_events=3)  # type: ignore[arg-type]
    job.archive_last = 10
    with patch("services.common.replay._pause", AsyncMock()):
        assert await consumer._feed(job, save, asyncio.Event())
    return seen, saves


async def test_a_replay_marks_what_it_may_have_applied_before_and_feeds_it_as_such() -> None:
    seen, saves = await _feed(Job(id="j", state="running", requested_at=0.0, phase="archive"))
    assert seen == [[(1, False), (2, False), (3, False)], [(4, False), (5, False), (6, False)],
                    [(7, False), (8, False), (9, False)], [(10, False)]]  # fmt: skip
    assert saves[:4] == [3, 6, 9, 10]  # each batch's end saved before the batch is applied
    # a crash after applying 4..6 but before the progress was saved: the next run starts at 4
    job = Job(id="j", state="running", requested_at=0.0, phase="archive", fed=3, applying=6)
    seen, _ = await _feed(job)
    assert seen[0] == [(4, True), (5, True), (6, True)] and seen[1] == [(7, False), (8, False), (9, False)]
    assert job.fed == job.applying == 10
    # a batch that failed is fed again marked: the failed try may have written part of it
    seen, _ = await _feed(Job(id="j", state="running", requested_at=0.0, phase="archive"), fail_once_at=6)
    assert seen[1] == [(4, False), (5, False), (6, False)] and seen[2] == [(4, True), (5, True), (6, True)]
