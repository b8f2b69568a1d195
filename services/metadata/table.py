"""The experiment table's index: one row per experiment in ClickHouse, so that filtering,
sorting, counting and grouping stay fast over any number of experiments.

MongoDB keeps the documents and stays the source of truth. This index is a second projection of
the same documents, written by the metadata projection in the same batch and acknowledged with
it. Rows are versioned by the document's ``version`` (ReplacingMergeTree), so a redelivered or
late write can never replace a newer row. A query returns the ids of a page and the total; the
page's documents are then read from MongoDB by id. Without an index on every nested field, a
document store scans and decodes every document for such queries (nx-27017 does so in Python,
about 8k documents/s). ClickHouse reads only the columns involved.

Each row has the attributes as columns. Metric summaries are in ``num`` and hyperparameters and
user properties in ``txt``, both keyed by a 64-bit hash of the document path the query language
resolves to, such as ``metrics.<md5>.<md5>.min`` or ``params.<md5>.<md5>.value``. Integer keys
keep the maps small: 100k experiments with 60 metric values each filter and sort in about 35 ms.

The filters are those of :mod:`services.metadata.query`, in the MongoDB form it compiles to,
translated here to SQL with bound parameters. A comparison never matches an experiment that lacks
the value; ``NOT IN`` and ``!=`` on labels (``attributes.tags``) match experiments without the label.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from services.common.clickhouse_cluster import client_settings, drop
from services.common.clickhouse_cluster import statements as cluster_statements
from services.metadata.domain import Doc

# The index is derived from MongoDB: a change of its schema bumps this version, and the service
# builds the new table from the documents when it starts (see ``MongoMetadataStore.sync_table``).
TABLE = "experiment_table_v1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS {name} (
    workspace String, id String, version UInt64,
    created Bool, cleared Bool, deleted Bool, archived Bool,
    project String, name String, status LowCardinality(String), user String, description String,
    tags Array(String),
    created_at Float64, started_at Float64, updated_at Float64, ended_at Float64, duration Nullable(Float64),
    status_seq Int64, last_seen Float64,
    num Map(UInt64, Float64),
    txt Map(UInt64, String)
) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace, id)
"""
COLUMNS = [
    "workspace", "id", "version", "created", "cleared", "deleted", "archived", "project", "name", "status", "user",
    "description", "tags", "created_at", "started_at", "updated_at", "ended_at", "duration", "status_seq",
    "last_seen", "num", "txt",
]  # fmt: skip
# document path -> (column, presence condition or "", ClickHouse type of its values)
_ATTRIBUTES = {
    "_id": ("id", "", "String"),
    **{name: (name, "", "String") for name in ("name", "status", "user", "project", "description", "tags")},
    **{name: (name, "", "Float64") for name in ("created_at", "started_at", "updated_at", "ended_at")},
    "duration": ("duration", "duration IS NOT NULL", "Float64"),
}
_MAPS = {"metrics.": ("num", "Float64"), "params.": ("txt", "String"), "properties.": ("txt", "String")}
_COMPARE = {"$eq": "=", "$ne": "!=", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True)
class TableQuery:
    """Which experiments a table request covers: the caller's workspace (and only ``among`` these
    projects when given), live, archived or in the bin, and a filter and order of the query
    language in its MongoDB form."""

    workspace: str
    project: str = ""
    archived: bool = False
    deleted: bool = False
    where: Doc | None = None
    sort: list[tuple[str, int]] | None = None
    among: list[str] | None = None


def path_key(path: str) -> int:
    """The map key of a document path: 64 bits of its md5."""
    return int.from_bytes(hashlib.md5(path.encode()).digest()[:8], "little")  # noqa: S324 (an id)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return _NON_FINITE[value] if isinstance(value, str) else float(value)


def row_of(doc: Doc) -> list[Any]:
    """The index row of an experiment document, in :data:`COLUMNS` order."""
    num: dict[int, float] = {}
    for metric_key, variants in doc.get("metrics", {}).items():
        for variant_key, summary in variants.items():
            for aggregate in ("last", "min", "max"):
                value = _number(summary.get(aggregate))
                if value is not None:
                    num[path_key(f"metrics.{metric_key}.{variant_key}.{aggregate}")] = value
    txt: dict[int, str] = {}
    for section_key, names in doc.get("params", {}).items():
        for name_key, param in names.items():
            if param.get("on", True) and param.get("value") is not None:
                txt[path_key(f"params.{section_key}.{name_key}.value")] = str(param["value"])
    for prop_key, prop in doc.get("properties", {}).items():
        if prop.get("on", True) and prop.get("value") is not None:
            txt[path_key(f"properties.{prop_key}.value")] = str(prop["value"])
    return [
        doc["workspace"], doc["_id"], int(doc.get("version", 0)), bool(doc.get("created")), bool(doc.get("cleared")),
        bool(doc.get("deleted")), bool(doc.get("archived")), doc.get("project", ""), doc.get("name", ""),
        doc.get("status", ""), doc.get("user", ""), doc.get("description", ""), list(doc.get("tags", [])),
        float(doc.get("created_at", 0.0)), float(doc.get("started_at", 0.0)), float(doc.get("updated_at", 0.0)),
        float(doc.get("ended_at", 0.0)), _number(doc.get("duration")), int(doc.get("status_seq", -1)),
        float(doc.get("last_seen", 0.0)), num, txt,
    ]  # fmt: skip


class Sql:
    """Builds one statement's SQL text and its bound parameters."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: Any, type_: str) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:{type_}}}"

    def field(self, path: str) -> tuple[str, str, str]:
        """(value expression, presence condition or "", value type) of a document path."""
        if path in _ATTRIBUTES:
            return _ATTRIBUTES[path]
        for prefix, (column, type_) in _MAPS.items():
            if path.startswith(prefix):
                key = self.bind(path_key(path), "UInt64")
                return f"{column}[{key}]", f"mapContains({column}, {key})", type_
        raise ValueError(f"{path}: not a column of the experiment table")

    def value(self, path: str) -> str:
        """The value of ``path``, NULL where an experiment lacks it (for sorting and grouping)."""
        expr, present, _ = self.field(path)
        return f"if({present}, {expr}, NULL)" if present else expr

    def where(self, condition: Doc) -> str:
        """SQL for a filter in the MongoDB form :func:`query.compile_filter` produces."""
        terms = []
        for key, operand in condition.items():
            if key in ("$and", "$or"):
                joined = (" AND " if key == "$and" else " OR ").join(self.where(c) for c in operand)
                terms.append(f"({joined})")
            elif key == "tags":
                terms.append(self._labels(operand))
            else:
                terms.append(self._compare(key, operand))
        return " AND ".join(terms) if terms else "1"

    def _compare(self, path: str, operand: Any) -> str:
        expr, present, type_ = self.field(path)
        ops = operand if isinstance(operand, dict) else {"$eq": operand}
        terms = [present] if present else []
        for op, value in ops.items():
            if op in _COMPARE:
                terms.append(f"{expr} {_COMPARE[op]} {self.bind(value, type_)}")
            elif op in ("$in", "$nin"):
                has = f"has({self.bind(list(value), f'Array({type_})')}, {expr})"
                terms.append(has if op == "$in" else f"NOT {has}")
            elif op == "$regex":
                terms.append(f"match({expr}, {self.bind(_regex(value, ops), 'String')})")
            elif op not in ("$exists", "$options"):  # every comparison above needs the value
                raise ValueError(f"{path}: {op} is not supported by the experiment table")
        return "(" + " AND ".join(terms) + ")"

    def _labels(self, operand: Any) -> str:
        """``attributes.tags``: = is "has", IN "has any", NOT IN "has none", LIKE "any matches"."""
        if not isinstance(operand, dict):
            return f"has(tags, {self.bind(operand, 'String')})"
        terms = []
        for op, value in operand.items():
            if op in ("$in", "$nin"):
                has = f"hasAny(tags, {self.bind(list(value), 'Array(String)')})"
                terms.append(has if op == "$in" else f"NOT {has}")
            elif op == "$regex":
                terms.append(f"arrayExists(t -> match(t, {self.bind(_regex(value, operand), 'String')}), tags)")
            elif op not in ("$exists", "$options"):
                raise ValueError(f"tags: {op} is not supported by the experiment table")
        return "(" + " AND ".join(terms) + ")"

    def order(self, sort: list[tuple[str, int]]) -> str:
        """Missing values sort first ascending and last descending (as in MongoDB); ties by id."""
        keys = [f"{self.value(path)} {'ASC NULLS FIRST' if d > 0 else 'DESC NULLS LAST'}" for path, d in sort]
        return ", ".join([*keys, "id ASC"])

    def condition(self, q: TableQuery) -> str:
        """The scope of ``q``, whatever its filter says, and its filter."""
        terms = [f"workspace = {self.bind(q.workspace, 'String')}", "created", "NOT cleared"]
        terms.append(f"deleted = {self.bind(q.deleted, 'Bool')}")
        if not q.deleted:
            terms.append(f"archived = {self.bind(q.archived, 'Bool')}")
        if q.among is not None:
            allowed = [p for p in q.among if not q.project or p == q.project]
            terms.append(f"has({self.bind(allowed, 'Array(String)')}, project)")
        elif q.project:
            terms.append(f"project = {self.bind(q.project, 'String')}")
        terms.append(self.where(q.where or {}))
        return " AND ".join(terms)


def _regex(pattern: str, ops: Doc) -> str:
    # LIKE matches across lines; ILIKE ignores case (RE2 flags)
    return ("(?si)" if "i" in ops.get("$options", "") else "(?s)") + pattern


def _plain(value: Any) -> Any:
    """Group values as the documents hold them (non-finite numbers as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return list(value) if isinstance(value, tuple) else value


class ExperimentTable:
    """The index over ClickHouse (any URL clickhouse-connect accepts). Blocking calls: the
    metadata service runs them on its own executor."""

    def __init__(self, url: str, name: str = TABLE, cluster: str = "") -> None:
        """``cluster``: on a ClickHouse cluster, a replicated table on every node and a distributed
        one over them, sharded by experiment (see ``services.common.clickhouse_cluster``)."""
        self.is_embedded = url.startswith("chdb:")
        cluster = "" if self.is_embedded else cluster
        self.client: Client = clickhouse_connect.get_client(dsn=url, settings=client_settings(cluster))
        self.name = name
        self.cluster = cluster
        self._create()

    def _create(self) -> None:
        schema = SCHEMA.format(name=self.name)
        for statement in cluster_statements(schema, self.cluster, key="cityHash64(workspace, id)"):
            self.client.command(statement)

    def close(self) -> None:
        self.client.close()

    def reset(self) -> None:
        """The table dropped and made again, empty."""
        drop(self.client, [self.name], self.cluster)
        self._create()

    def upsert(self, docs: Iterable[Doc]) -> int:
        """Writes the rows of ``docs``; an older version than the stored one changes nothing."""
        rows = [row_of(d) for d in docs]
        if rows:
            self.client.insert(self.name, rows, column_names=COLUMNS)
        return len(rows)

    def count_all(self) -> int:
        return int(self.client.query(f"SELECT count() FROM {self.name} FINAL").result_rows[0][0])  # noqa: S608

    def page(self, q: TableQuery, skip: int, limit: int) -> tuple[list[str], int]:
        """The ids of one page, in order, and how many experiments match."""
        sql = Sql()
        condition = sql.condition(q)
        order = sql.order(q.sort or [("created_at", -1)])
        text = (
            f"SELECT id, count() OVER () FROM {self.name} FINAL WHERE {condition}"  # noqa: S608 (all values bound)
            f" ORDER BY {order} LIMIT {int(limit)} OFFSET {int(skip)}"
        )
        rows = self.client.query(text, parameters=sql.params).result_rows
        if rows:
            return [r[0] for r in rows], int(rows[0][1])
        if skip == 0:
            return [], 0
        # past the last page: the total still counts
        total = self.client.query(f"SELECT count() FROM {self.name} FINAL WHERE {condition}", parameters=sql.params)  # noqa: S608
        return [], int(total.result_rows[0][0])

    def groups(self, q: TableQuery, path: str) -> list[tuple[Any, int]]:
        """(value, count) of ``path`` over the experiments of ``q``, most common first. By tags,
        each tag is a group (an experiment counts in each of its tags; untagged ones in none),
        the groups a tag filter (``attributes.tags = 'x'``) selects."""
        sql = Sql()
        value = "arrayJoin(tags)" if path == "tags" else sql.value(path)
        text = f"SELECT {value} AS v, count() FROM {self.name} FINAL WHERE {sql.condition(q)} GROUP BY v"  # noqa: S608
        rows = [(_plain(v), int(n)) for v, n in self.client.query(text, parameters=sql.params).result_rows]
        return sorted(rows, key=lambda r: (-r[1], str(r[0])))

    def project_counts(self, workspace: str) -> dict[tuple[str, bool], tuple[int, float]]:
        """(project, archived) -> (experiments, latest update), over live experiments."""
        text = (
            f"SELECT project, archived, count(), max(updated_at) FROM {self.name} FINAL"  # noqa: S608 (constant)
            " WHERE workspace = {ws:String} AND created AND NOT cleared AND NOT deleted GROUP BY project, archived"
        )
        rows = self.client.query(text, parameters={"ws": workspace}).result_rows
        return {(p, bool(a)): (int(n), float(last)) for p, a, n, last in rows}

    def stale_running(self, seen_before: float, limit: int) -> list[str]:
        """Ids of running experiments last heard of before ``seen_before``."""
        text = (
            f"SELECT id FROM {self.name} FINAL WHERE status = 'running' AND created AND NOT cleared"  # noqa: S608
            " AND last_seen < {before:Float64} LIMIT {limit:UInt32}"
        )
        return [r[0] for r in self.client.query(text, parameters={"before": seen_before, "limit": limit}).result_rows]
