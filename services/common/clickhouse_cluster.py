"""ClickHouse schemas on a cluster (``TRACKLANE_CLICKHOUSE_CLUSTER``): the same
migrations, each table made twice — ``<table>_local``, a ``Replicated*MergeTree`` on every node
(its replicas kept by ClickHouse Keeper), and ``<table>``, a ``Distributed`` table over the
cluster's shards, which the store reads and writes exactly as it does a single server's tables.
Rows shard by experiment, so one experiment's points stay on one shard and its chart reads one.

The materialized view of the block rollups reads the local table and writes the local rollups:
each shard rolls up its own rows. Deduplication by event id holds per shard (every event of an
experiment lands on the same one), in the replicated tables' window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

LOCAL = "_local"
SHARDING_KEY = "cityHash64(workspace, experiment_id)"
DEDUP_WINDOW = 10_000  # blocks remembered per table in Keeper (a redelivery comes within minutes)

_CREATE = re.compile(r"^\s*CREATE TABLE IF NOT EXISTS (\w+)", re.M)
_ENGINE = re.compile(r"ENGINE = (\w*)MergeTree(?:\(([^)]*)\))?")
_WINDOW = re.compile(r"non_replicated_deduplication_window = \d+")
_VIEW = re.compile(r"^\s*CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS", re.M)
_FROM = re.compile(r"\bFROM (\w+)")


def statements(sql: str, cluster: str, key: str = SHARDING_KEY) -> list[str]:
    """One migration statement as the statements that make it on ``cluster`` (ON CLUSTER DDL);
    with no cluster, the statement itself. ``key`` shards the rows (a table without an
    experiment id column spreads at random unless given one). Statements other than CREATE (a
    backfill's INSERT … SELECT) run as they are, through the Distributed tables."""
    if not cluster:
        return [sql]
    on = f"ON CLUSTER {_quote(cluster)}"
    if (table := _CREATE.search(sql)) is not None:
        name = table.group(1)
        local = _CREATE.sub(f"CREATE TABLE IF NOT EXISTS {name}{LOCAL} {on}", sql, count=1)
        local = _ENGINE.sub(lambda m: _replicated(m, name + LOCAL), local, count=1)
        local = _WINDOW.sub(f"replicated_deduplication_window = {DEDUP_WINDOW}", local)
        if key == SHARDING_KEY and "experiment_id" not in sql:
            key = "rand()"
        distributed = (
            f"CREATE TABLE IF NOT EXISTS {name} {on} AS {name}{LOCAL}"
            f" ENGINE = Distributed({_quote(cluster)}, currentDatabase(), {name}{LOCAL}, {key})"
        )
        return [local, distributed]
    if (view := _VIEW.search(sql)) is not None:
        name, target = view.group(1), view.group(2)
        head = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} {on} TO {target}{LOCAL} AS"
        body = sql[view.end() :]
        return [sql[: view.start()] + head + _FROM.sub(lambda m: f"FROM {m.group(1)}{LOCAL}", body)]
    return [sql]


def drop(client: Any, names: Iterable[str], cluster: str) -> None:
    """Drops the tables and views ``names`` (a view before the tables it reads: the caller's
    order), on every node of ``cluster`` (there, each name's Distributed table and its local
    one). Each drop waits until the data and its deduplication memory (the local directory, the
    replicas' Keeper paths) are gone, so a table made again under the name starts empty."""
    on = f" ON CLUSTER {_quote(cluster)}" if cluster else ""
    for name in names:
        for table in (name, name + LOCAL) if cluster else (name,):
            client.command(f"DROP TABLE IF EXISTS `{table}`{on} SYNC")


def created(sql: str) -> list[str]:
    """The tables and views a migration's SQL creates, in order."""
    return [m.group(1) for m in re.finditer(r"CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)", sql)]


def client_settings(cluster: str) -> dict[str, int]:
    """A client's settings: on a cluster an insert returns once the shard's replica wrote it
    (not queued on the node to send later)."""
    return {"distributed_foreground_insert": 1} if cluster else {}


def local_table(table: str, cluster: str) -> str:
    """Where a statement that a Distributed table does not take (a DELETE) goes."""
    return f"{table}{LOCAL} {'ON CLUSTER ' + _quote(cluster)}" if cluster else table


def _replicated(m: re.Match[str], table: str) -> str:
    kind, args = m.group(1), m.group(2)
    path = f"'/clickhouse/tables/{{shard}}/{{database}}/{table}', '{{replica}}'"
    return f"ENGINE = Replicated{kind}MergeTree({path}{', ' + args if args else ''})"


def _quote(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
        raise ValueError("TRACKLANE_CLICKHOUSE_CLUSTER: letters, digits, '_' and '-'")
    return f"'{name}'"
