"""The replay job's rules (who may take it, what survives an upgrade of its record) and the
statements that drop a read model's ClickHouse tables, alone and on a cluster."""

from __future__ import annotations

from typing import Any

from services.common.clickhouse_cluster import created, drop
from services.common.replay import LEASE_S, Job
from services.metrics.store import migration_files


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
