"""The experiment table's query language: what compiles to what, and what is refused how."""

from __future__ import annotations

import hashlib
import re

import pytest

from services.metadata.query import (
    QueryError,
    column,
    compile_columns,
    compile_filter,
    compile_order,
    identifier,
    tokenize,
)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


LOSS_TRAIN = f"metrics.{md5('loss')}.{md5('train')}"


def test_comparisons_on_each_kind() -> None:
    assert compile_filter("metrics.loss/train < 0.2") == {f"{LOSS_TRAIN}.last": {"$lt": 0.2}}
    assert compile_filter("metrics.loss/train.min >= 1e-3") == {f"{LOSS_TRAIN}.min": {"$gte": 0.001}}
    assert compile_filter("metrics.loss = 1") == {f"metrics.{md5('loss')}.{md5('loss')}.last": 1.0}
    assert compile_filter("metrics.`val loss/top-1`.max > 0") == {
        f"metrics.{md5('val loss')}.{md5('top-1')}.max": {"$gt": 0.0}
    }
    assert compile_filter("params.lr = '0.1'") == {f"params.{md5('General')}.{md5('lr')}.value": "0.1"}
    # a bare name may hold dots: this is the parameter "lr.max"
    assert compile_filter("params.lr.max = '1'") == {f"params.{md5('General')}.{md5('lr.max')}.value": "1"}
    assert compile_filter("params.Args/batch = '64'") == {f"params.{md5('Args')}.{md5('batch')}.value": "64"}
    assert compile_filter("tags.team = 'cv'") == {f"properties.{md5('team')}.value": "cv"}
    assert compile_filter("attributes.status IN ('running','completed')") == {
        "status": {"$in": ["running", "completed"]}
    }
    assert compile_filter("attributes.tags = 'prod'") == {"tags": "prod"}
    assert compile_filter("attributes.tags NOT IN ('wip')") == {"tags": {"$nin": ["wip"]}}
    assert compile_filter("attributes.duration > 3600") == {"duration": {"$gt": 3600.0}}
    assert compile_filter("attributes.name LIKE 'res%net_1'") == {"name": {"$regex": "^res.*net.1$"}}
    assert compile_filter("attributes.name ILIKE '%A.B%'") == {"name": {"$regex": "^.*A\\.B.*$", "$options": "i"}}
    assert compile_filter("attributes.name = 'it''s'") == {"name": "it's"}
    assert compile_filter("metrics.acc != 1") == {
        f"metrics.{md5('acc')}.{md5('acc')}.last": {"$ne": 1.0, "$exists": True}
    }
    assert compile_filter("") == {} and compile_filter("   ") == {}


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, c = "attributes.user = 'a'", "attributes.user = 'b'", "attributes.user = 'c'"
    assert compile_filter(f"{a} OR {b} AND {c}") == {"$or": [{"user": "a"}, {"$and": [{"user": "b"}, {"user": "c"}]}]}
    assert compile_filter(f"({a} OR {b}) and {c}") == {"$and": [{"$or": [{"user": "a"}, {"user": "b"}]}, {"user": "c"}]}
    assert compile_filter(f"(({a}))") == {"user": "a"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.loss < 'low'", "is a number"),
        ("attributes.name > 3", "is text"),
        ("attributes.name = bob", "unexpected word"),
        ("attributes.status = 'done'", "status is one of"),
        ("attributes.colour = 'red'", "unknown attribute"),
        ("colour = 'red'", "unexpected word"),
        ("foo.bar = 'x'", "identifiers start with"),
        ("attributes.name = 'x' AND", "at the end: expected an identifier"),
        ("(attributes.name = 'x'", "expected ')'"),
        ("attributes.name = 'x')", "unexpected ')'"),
        ("attributes.name IN 'x'", "expected '('"),
        ("attributes.name NOT LIKE 'x'", "expected IN after NOT"),
        ("metrics.loss LIKE 'x'", "LIKE compares text"),
        ("params.`lr`.max = '1'", "applies to metrics only"),
        ("attributes.name = 'x' ; drop", "unexpected ';"),
        ("attributes.name = 'unterminated", "unexpected"),
    ],
)
def test_bad_filters_say_where_and_why(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        compile_filter(text)


def test_limits() -> None:
    with pytest.raises(QueryError, match="limit is 4096"):
        compile_filter("attributes.name = '" + "x" * 5000 + "'")
    many = " OR ".join(["attributes.user = 'u'"] * 101)
    with pytest.raises(QueryError, match="at most 100 comparisons"):
        compile_filter(many)
    # parentheses within parentheses: 16 deep compile (each level an AND in an OR), 17 are refused
    # (the long atheris run found 2,000 of them overflowing Python's stack: a 500)
    deep = "attributes.user = 'u'"
    for _ in range(16):
        deep = f"(attributes.user = 'a' OR {deep} AND attributes.user = 'b')"
    nested, depth = compile_filter(deep), 0
    while "$or" in nested:
        nested, depth = nested["$or"][1]["$and"][0], depth + 1
    assert (depth, nested) == (16, {"user": "u"})
    with pytest.raises(QueryError, match=re.escape("at position 16: parentheses nest at most 16 deep")):
        compile_filter("(" * 17 + "attributes.user = 'u'" + ")" * 17)
    with pytest.raises(QueryError, match="nest at most 16 deep"):
        compile_filter("(" * 4000)


def test_order_and_columns() -> None:
    assert compile_order("-metrics.loss/train.min, attributes.name ASC") == [
        (f"{LOSS_TRAIN}.min", -1),
        ("name", 1),
    ]
    assert compile_order("attributes.created DESC") == [("created_at", -1)]
    cols = compile_columns("metrics.loss/train.max, params.lr", "columns")
    assert [c.text for c in cols] == ["metrics.loss/train.max", "params.lr"]
    assert cols[0].value_of({"metrics": {md5("loss"): {md5("train"): {"max": 3.0}}}}) == 3.0
    assert cols[1].value_of({}) is None
    with pytest.raises(QueryError, match="columns"):
        compile_columns("attributes.name = 'x'", "columns")


def test_metric_ids_can_be_given_as_md5() -> None:
    """ClearML's embed codes name metrics by md5 ids; ``md5:<hex>`` reaches the same field."""
    by_name = compile_order("-metrics.`val loss/top 1`.max")
    m, v = hashlib.md5(b"val loss").hexdigest(), hashlib.md5(b"top 1").hexdigest()
    assert compile_order(f"-metrics.`md5:{m}/md5:{v}`.max") == by_name
    assert compile_order("metrics.`md5:nothex/x`")[0][0] != by_name[0][0]


@pytest.mark.parametrize(
    ("kind", "name", "written"),
    [
        ("metrics", "loss/train", "metrics.loss/train"),
        ("metrics", "val loss/top-1", "metrics.`val loss/top-1`"),
        ("metrics", "acc.max", "metrics.`acc.max`"),
        ("params", "Args/lr", "params.Args/lr"),
        ("tags", "team `a`", 'tags."team `a`"'),
    ],
)
def test_identifiers_are_written_so_that_they_read_back(kind: str, name: str, written: str) -> None:
    assert identifier(kind, name) == written
    [token] = tokenize(written)
    assert token.kind == "ident"
    assert compile_columns(written, "columns")[0].path == column(kind, name).path
