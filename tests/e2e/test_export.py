"""Export: long and wide datasets in CSV, JSON lines and Parquet, streamed, scoped and filtered."""

from __future__ import annotations

import csv
import io
import json
import secrets

import pyarrow.parquet as pq
import pytest

from devstack import Stack
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines

POINTS = 250_000  # more than two pages of points, so paging is exercised


@pytest.fixture(scope="module")
def exported(stack: Stack) -> dict[str, str]:
    project = "export-" + secrets.token_hex(3)
    big, small = new_id(), new_id()
    open_experiment(stack, big, project=project, name="big")
    open_experiment(stack, small, project=project, name="small")
    for seq, start in enumerate(range(0, POINTS, 50_000), start=1):
        points = [("loss", "train", i, 1.0 / (i + 1)) for i in range(start, start + 50_000)]
        ingest(stack).Append(batch(big, scalar_event(seq, points)), metadata=AUTH, timeout=30)
    ingest(stack).Append(
        batch(small, scalar_event(1, [("acc", "val", 0, 0.5), ("acc", "val", 1, 0.75)])), metadata=AUTH
    )
    with gateway(stack) as gw:
        wait_for("the points", lambda: total_points(gw, big, "loss", "train") == POINTS, timeout=120)
        wait_for("the small run", lambda: total_points(gw, small, "acc", "val") == 2)
        wait_for("summaries", lambda: all(gw.get(f"/api/v1/experiments/{e}").json()["metrics"] for e in (big, small)))
        gw.post(f"/api/v1/experiments/{small}/tags", json={"add": ["keep"]})
    return {"project": project, "big": big, "small": small}


def test_long_csv_has_every_point_and_tag(stack: Stack, exported: dict[str, str]) -> None:
    with gateway(stack) as gw, gw.stream("GET", "/api/v1/export", params={"project": exported["project"]}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert 'filename="tracklane-long.csv"' in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.read().decode())))
    metric_rows = [row for row in rows if row["kind"] == "metric"]
    assert len(metric_rows) == POINTS + 2
    big_steps = [int(row["step"]) for row in metric_rows if row["experiment_id"] == exported["big"]]
    assert big_steps == list(range(POINTS))  # every point once, in order, across pages
    assert float(metric_rows[0]["value"]) in (1.0, 0.5)
    assert [row["key"] for row in rows if row["kind"] == "tag"] == ["keep"]


def test_long_jsonl_with_a_filter(stack: Stack, exported: dict[str, str]) -> None:
    params = {"project": exported["project"], "format": "jsonl", "filter": "attributes.name = 'small'"}
    with gateway(stack) as gw:
        r = gw.get("/api/v1/export", params=params)
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert {row["experiment_id"] for row in rows} == {exported["small"]}
    assert [(row["step"], row["value"]) for row in rows if row["kind"] == "metric"] == [(0, "0.5"), (1, "0.75")]


def test_wide_parquet(stack: Stack, exported: dict[str, str]) -> None:
    params = {"project": exported["project"], "format": "parquet", "shape": "wide", "order_by": "attributes.name"}
    with gateway(stack) as gw:
        r = gw.get("/api/v1/export", params=params)
    assert r.status_code == 200
    table = pq.read_table(io.BytesIO(r.content)).to_pylist()
    assert [row["name"] for row in table] == ["big", "small"]
    metrics = json.loads(table[0]["metrics"])
    assert metrics["loss/train"]["max"] == 1.0 and metrics["loss/train"]["last"] == pytest.approx(1 / POINTS)
    assert json.loads(table[1]["tags"]) == ["keep"]


def test_long_parquet_pages_through_row_groups(stack: Stack, exported: dict[str, str]) -> None:
    params = {"project": exported["project"], "format": "parquet", "filter": "attributes.name = 'big'"}
    with gateway(stack) as gw:
        r = gw.get("/api/v1/export", params=params)
    parquet = pq.ParquetFile(io.BytesIO(r.content))
    assert parquet.metadata.num_rows == POINTS and parquet.metadata.num_row_groups >= 5


def test_bad_exports_and_scoping(stack: Stack, exported: dict[str, str]) -> None:
    with gateway(stack) as gw:
        for params, field in [
            ({"format": "xlsx"}, "format"),
            ({"shape": "tall"}, "shape"),
            ({"filter": "x = 1"}, "filter"),
        ]:
            r = gw.get("/api/v1/export", params=params)
            assert r.status_code == 400 and r.json()["error"]["field"] == field
        key = gw.post("/api/v1/workspaces", json={"id": "exp-" + secrets.token_hex(3)}).json()["admin_key"]["key"]
    with gateway(stack, key=key) as other:
        r = other.get("/api/v1/export", params={"project": exported["project"], "format": "jsonl"})
        assert r.status_code == 200 and r.text == ""
