"""The experiment table index against the real ClickHouse engine (chDB), and a server too when
TRACKLANE_TEST_CLICKHOUSE_URL is set.

The main check is differential: random experiments built by the projection's own rules, random
filters and sorts written in the query language, and every answer of the index compared with a
plain Python reading of the same documents (the semantics the query module documents)."""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from tracklane_proto import events_pb2

from services.metadata import domain, query
from services.metadata.table import ExperimentTable, TableQuery
from tests.conftest import CLICKHOUSE_TARGETS

pytestmark = pytest.mark.engines

WS = "ws"
LABELS = ["prod", "wip", "cv", "nlp"]
SERIES = [("loss", "train"), ("loss", "val"), ("acc", "acc"), ("odd", "odd")]  # "odd" may be NaN or Inf
VALUES = [0.1, 0.25, 0.5, 0.75, 1.0]
AGGREGATES = ["", ".min", ".max", ".last"]


@pytest.fixture(params=CLICKHOUSE_TARGETS)
def table(request: pytest.FixtureRequest, chdb_url: str) -> Iterator[ExperimentTable]:
    url = chdb_url if request.param == "chdb" else request.param
    t = ExperimentTable(url, f"experiment_table_t{uuid.uuid4().hex[:12]}")
    yield t
    t.client.command(f"DROP TABLE IF EXISTS {t.name}")
    t.close()


def make_doc(i: int, rng: random.Random) -> domain.Doc:
    exp = f"{i:04d}{uuid.uuid4().hex[:8]}"
    created = events_pb2.ExperimentCreated(
        project=rng.choice(["a", "b"]), name=f"run-{rng.randint(0, 20)}", user=rng.choice(["ann", "bob", "o'neil"]),
        tags=rng.sample(LABELS, rng.randint(0, 2)), started_at=float(rng.randint(1, 10)),
    )  # fmt: skip
    doc = domain.apply_created(None, exp, WS, created, float(rng.randint(1, 10)), 1)
    summaries = []
    for metric, variant in rng.sample(SERIES, rng.randint(0, len(SERIES))):
        lo, hi = sorted(rng.sample(VALUES, 2))
        last: float | str = rng.choice([lo, hi])
        if metric == "odd" and rng.random() < 0.5:
            last = rng.choice(["NaN", "Infinity", "-Infinity"])
        summaries.append(domain.SeriesSummary(metric, variant, last, 9, lo, hi))
    doc = domain.apply_scalars(doc, exp, WS, 2, summaries, 11.0)
    params = [
        events_pb2.Param(name=n, value=rng.choice(["0.1", "0.01", "adam"])) for n in ("lr", "opt") if rng.random() < 0.7
    ]
    doc = domain.apply_params(doc, exp, WS, events_pb2.ParamsSet(section="General", params=params), 3)
    if params and rng.random() < 0.2:  # a removed hyperparameter matches nothing any more
        doc = domain.apply_params(doc, exp, WS, events_pb2.ParamsSet(section="General", remove=[params[0].name]), 4)
    props = {"team": rng.choice(["cv", "nlp", "Core"])} if rng.random() < 0.6 else {}
    doc = domain.apply_properties(doc, exp, WS, events_pb2.PropertiesSet(set=props), 5)
    if rng.random() < 0.5:
        status = rng.choice(["completed", "failed", "stopped"])
        doc = domain.apply_status(doc, exp, WS, 1, status, "", float(rng.randint(10, 20)))
    if rng.random() < 0.2:
        doc = domain.apply_edited(doc, exp, WS, events_pb2.ExperimentEdited(archived=True), 12.0, 6)
    doc["version"] = 1
    return doc


# -- the reference: the documented semantics over plain documents ----------------------------------
def value_at(doc: domain.Doc, path: str) -> Any:
    if path.startswith(("params.", "properties.")):
        entry = query.Column("", path.rpartition(".")[0], False).value_of(doc)
        return entry.get("value") if isinstance(entry, dict) and entry.get("on", True) else None
    v = query.Column("", path, False).value_of(doc)
    return (
        {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v)
        if isinstance(v, str) and path.startswith("metrics.")
        else v
    )


def matches(doc: domain.Doc, condition: dict[str, Any]) -> bool:
    for key, operand in condition.items():
        if key == "$and":
            ok = all(matches(doc, c) for c in operand)
        elif key == "$or":
            ok = any(matches(doc, c) for c in operand)
        else:
            ok = compare(doc, key, operand)
        if not ok:
            return False
    return True


def regex_matches(text: str, ops: dict[str, Any]) -> bool:
    flags = re.DOTALL | (re.IGNORECASE if "i" in ops.get("$options", "") else 0)
    return re.search(ops["$regex"], text, flags) is not None


def compare(doc: domain.Doc, path: str, operand: Any) -> bool:
    ops = operand if isinstance(operand, dict) else {"$eq": operand}
    if path == "tags":
        tags = doc["tags"]
        checks = {
            "$eq": lambda x: x in tags,
            "$in": lambda x: any(t in x for t in tags),
            "$nin": lambda x: not any(t in x for t in tags),
            "$regex": lambda _: any(regex_matches(t, ops) for t in tags),
        }  # fmt: skip
        return all(checks[op](x) for op, x in ops.items() if op in checks)
    v = value_at(doc, path)
    if v is None:
        return False
    checks = {
        "$eq": lambda x: v == x, "$ne": lambda x: v != x, "$lt": lambda x: v < x, "$lte": lambda x: v <= x,
        "$gt": lambda x: v > x, "$gte": lambda x: v >= x, "$in": lambda x: v in x, "$nin": lambda x: v not in x,
        "$regex": lambda _: regex_matches(v, ops),
    }  # fmt: skip
    return all(checks[op](x) for op, x in ops.items() if op in checks)


def sort_key(doc: domain.Doc, sort: list[tuple[str, int]]) -> tuple[Any, ...]:
    """Missing values first ascending, last descending; then the id."""
    out: list[Any] = []
    for path, direction in sort:
        v = value_at(doc, path)
        if isinstance(v, list):
            v = tuple(v)
        rank = (0, 0) if v is None else (1, v)
        out.append(_Desc(rank) if direction < 0 else rank)
    return (*out, doc["_id"])


class _Desc:
    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.v < self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.v == other.v


# -- random queries in the query language ----------------------------------------------------------
def random_atom(rng: random.Random) -> str:
    metric, variant = rng.choice(SERIES)
    name = metric if metric == variant else f"{metric}/{variant}"
    number = rng.choice(VALUES)
    choices = [
        lambda: f"metrics.{name}{rng.choice(AGGREGATES)} {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {number}",
        lambda: f"metrics.{name}.max IN ({number}, {rng.choice(VALUES)})",
        lambda: f"metrics.{name} NOT IN ({number})",
        lambda: f"params.lr {rng.choice(['=', '!='])} '{rng.choice(['0.1', '0.01'])}'",
        lambda: "params.General/opt IN ('adam', '0.1')",
        lambda: f"params.lr {rng.choice(['LIKE', 'ILIKE'])} '0.%'",
        lambda: f"tags.team {rng.choice(['=', 'ILIKE', 'LIKE'])} '{rng.choice(['cv', 'core', 'Core', '%o%'])}'",
        lambda: "tags.team NOT IN ('cv')",
        lambda: f"attributes.status IN ('{rng.choice(sorted(query.STATUSES))}', 'running')",
        lambda: f"attributes.status != '{rng.choice(sorted(query.STATUSES))}'",
        lambda: f"attributes.tags {rng.choice(['=', '!='])} '{rng.choice(LABELS)}'",
        lambda: f"attributes.tags {rng.choice(['IN', 'NOT IN'])} ('{rng.choice(LABELS)}', '{rng.choice(LABELS)}')",
        lambda: "attributes.tags LIKE 'c%'",
        lambda: "attributes.name LIKE 'run-1_'",
        lambda: "attributes.user = 'o''neil'",
        lambda: f"attributes.duration {rng.choice(['>', '<=', '!='])} {rng.randint(0, 15)}",
        lambda: f"attributes.created >= {rng.randint(1, 10)}",
        lambda: "attributes.ended = 0",
    ]
    return rng.choice(choices)()


def random_filter(rng: random.Random, depth: int = 0) -> str:
    if depth >= 2 or rng.random() < 0.4:
        return random_atom(rng)
    parts = [random_filter(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    joined = f" {rng.choice(['AND', 'OR'])} ".join(parts)
    return f"({joined})" if rng.random() < 0.5 else joined


def random_order(rng: random.Random) -> str:
    keys = ["metrics.loss/train", "metrics.acc.max", "params.lr", "tags.team", "attributes.name",
            "attributes.duration", "attributes.tags", "attributes.user", "attributes.created"]  # fmt: skip
    return ", ".join(f"{rng.choice(['', '-'])}{k}" for k in rng.sample(keys, rng.randint(1, 2)))


def test_random_filters_and_sorts_agree_with_the_documents(table: ExperimentTable) -> None:
    rng = random.Random(20261123)
    docs = [make_doc(i, rng) for i in range(300)]
    table.upsert(docs)
    checked = hits = 0
    for _ in range(250):
        text, order_text = random_filter(rng), random_order(rng)
        where, sort = query.compile_filter(text), query.compile_order(order_text)
        project = rng.choice(["", "a"])
        archived = rng.random() < 0.2
        expected = sorted(
            (
                d
                for d in docs
                if matches(d, where) and (not project or d["project"] == project) and d["archived"] == archived
            ),
            key=lambda d: sort_key(d, sort),
        )
        ids, total = table.page(TableQuery(WS, project, archived=archived, where=where, sort=sort), 0, 1000)
        assert total == len(expected), text
        assert ids == [d["_id"] for d in expected], (text, order_text)
        checked += 1
        hits += bool(expected)
    assert checked == 250 and hits > 100  # the filters select something most of the time


def test_pages_groups_and_totals(table: ExperimentTable) -> None:
    rng = random.Random(7)
    docs = [make_doc(i, rng) for i in range(120)]
    table.upsert(docs)
    where = query.compile_filter("metrics.loss/val.min < 0.6")
    sort = query.compile_order("-metrics.loss/val.min")
    all_ids, total = table.page(TableQuery(WS, where=where, sort=sort), 0, 1000)
    pages = [table.page(TableQuery(WS, where=where, sort=sort), skip, 7) for skip in range(0, total + 7, 7)]
    assert [i for ids, _ in pages for i in ids] == all_ids and {t for _, t in pages} == {total}
    assert table.page(TableQuery(WS, where=where), total + 100, 7) == ([], total)  # past the end: still counted
    live = [d for d in docs if not d["archived"]]
    groups = table.groups(TableQuery(WS), query.compile_columns("attributes.status", "g")[0].path)
    expected: dict[Any, int] = {}
    for d in live:
        expected[d["status"]] = expected.get(d["status"], 0) + 1
    assert dict(groups) == expected and [n for _, n in groups] == sorted(expected.values(), reverse=True)
    odd = dict(table.groups(TableQuery(WS), query.compile_columns("metrics.odd", "g")[0].path))
    assert sum(odd.values()) == len(live) and None in odd  # experiments without the metric: one null group
    assert set(odd) - {None} <= {*VALUES, "NaN", "Infinity", "-Infinity"}
    counts = table.project_counts(WS)
    for project in ("a", "b"):
        for archived in (False, True):
            mine = [d for d in docs if d["project"] == project and d["archived"] == archived]
            assert counts.get((project, archived), (0, 0.0))[0] == len(mine)
    assert table.page(TableQuery("other"), 0, 10) == ([], 0)  # another workspace sees nothing


def test_rows_are_versioned_and_redelivery_is_harmless(table: ExperimentTable) -> None:
    rng = random.Random(3)
    doc = make_doc(0, rng)
    newer = domain.apply_edited(doc, doc["_id"], WS, events_pb2.ExperimentEdited(name="renamed"), 20.0, 50)
    newer["version"] = 2
    table.upsert([newer])
    table.upsert([doc])  # late: an older version
    table.upsert([newer])  # redelivered
    where = query.compile_filter("attributes.name = 'renamed'")
    assert table.page(TableQuery(WS, archived=doc["archived"], where=where), 0, 10) == ([doc["_id"]], 1)
    assert table.count_all() == 1


def test_scope_deleted_cleared_and_public_projects(table: ExperimentTable) -> None:
    rng = random.Random(5)
    docs = [make_doc(i, rng) for i in range(4)]
    for d in docs:
        d["archived"] = False
    docs[1]["deleted"] = True
    docs[2]["cleared"] = True
    docs[3]["project"] = "secret"
    table.upsert(docs)
    assert table.page(TableQuery(WS, deleted=True), 0, 10)[0] == [docs[1]["_id"]]
    visible = {d["_id"] for d in docs if not d["deleted"] and not d["cleared"]}
    assert set(table.page(TableQuery(WS), 0, 10)[0]) == visible
    public = sorted({docs[0]["project"]})
    assert table.page(TableQuery(WS, among=public), 0, 10)[0] == [docs[0]["_id"]]
    assert table.page(TableQuery(WS, "secret", among=public), 0, 10) == ([], 0)  # a private project stays hidden


def test_stale_running(table: ExperimentTable) -> None:
    rng = random.Random(9)
    docs = [make_doc(i, rng) for i in range(40)]
    for d in docs:
        d["last_seen"] = float(rng.randint(0, 100))
    table.upsert(docs)
    expected = {d["_id"] for d in docs if d["status"] == "running" and d["last_seen"] < 50}
    assert expected and set(table.stale_running(50.0, 1000)) == expected
