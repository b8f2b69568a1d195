"""Compare, ETags and CORS through the gateway."""

from __future__ import annotations

import pytest

from devstack import Stack
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines


def test_compare_side_by_side_with_overlaid_scalars(stack: Stack) -> None:
    a, b = new_id(), new_id()
    for exp, scale in ((a, 1.0), (b, 2.0)):
        open_experiment(stack, exp, project="compare", name=f"x{scale:g}")
        points = [("loss", "train", i, scale / (i + 1)) for i in range(50)]
        if exp == a:
            points.append(("acc", "val", 0, 0.5))
        ingest(stack).Append(batch(exp, scalar_event(1, points)), metadata=AUTH, timeout=10)
    with gateway(stack) as gw:
        for exp in (a, b):
            wait_for("the points", lambda e=exp: total_points(gw, e, "loss", "train") == 50)
        wait_for("the summaries", lambda: all(gw.get(f"/api/v1/experiments/{e}").json()["metrics"] for e in (a, b)))
        r = gw.get("/api/v1/compare", params={"ids": f"{a},{b}", "metric": "loss", "variant": "train", "samples": 10})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [e["id"] for e in body["experiments"]] == [a, b]
        rows = {(m["metric"], m["variant"]): m["values"] for m in body["metrics"]}
        assert set(rows[("loss", "train")]) == {a, b} and set(rows[("acc", "val")]) == {a}
        assert rows[("loss", "train")][b]["max"] == 2.0 and rows[("loss", "train")][a]["max"] == 1.0
        overlay = {s["experiment_id"]: s for s in body["scalars"]}
        assert overlay[a]["total_points"] == overlay[b]["total_points"] == 50
        assert len(overlay[a]["x"]) == 10 and overlay[b]["max"][0] == 2.0

        for params, status in [
            ({"ids": a}, 400),
            ({"ids": f"{a},{a}"}, 200),  # a repeated id counts once
            ({"ids": ",".join(new_id() for _ in range(11))}, 400),
            ({"ids": f"{a},{new_id()}"}, 404),
            ({"ids": f"{a},{b}", "metric": "loss"}, 200),  # the variant defaults to the metric's name
        ]:
            assert gw.get("/api/v1/compare", params=params).status_code == status, params


def test_a_page_of_charts_in_one_call_answers_as_each_chart_alone(stack: Stack) -> None:
    """``POST …/scalars/charts``: a metric's variants on one grid and a single variant in its own
    buckets, each as ``/scalars`` answers it alone; a metric the run lacks is an empty chart;
    bad asks are 400s naming the field; another workspace's key finds nothing."""
    exp = new_id()
    open_experiment(stack, exp, project="charts-at-once")
    points = [("loss", v, i, (1.0 if v == "train" else 2.0) / (i + 1)) for v in ("train", "val") for i in range(300)]
    points += [("acc", "val", i, i / 300) for i in range(300)] + [("lr", "lr", 0, 0.1)]
    points[123] = ("loss", "train", 123, 40.0)  # a spike
    ingest(stack).Append(batch(exp, scalar_event(1, points)), metadata=AUTH, timeout=10)
    url = f"/api/v1/experiments/{exp}/scalars/charts"
    with gateway(stack) as gw:
        wait_for("the points", lambda: total_points(gw, exp, "acc", "val") == 300)
        wait_for("the summaries", lambda: len(gw.get(f"/api/v1/experiments/{exp}").json()["metrics"]) == 4)
        ask = [{"metric": "loss"}, {"metric": "acc", "variant": "val"}, {"metric": "gone"}, {"metric": "lr"}]
        r = gw.post(url, json={"charts": ask, "samples": 50, "x_min": 250, "x_max": 10})
        assert r.status_code == 200, r.text
        charts = r.json()["charts"]
        assert [(c["metric"], c.get("variant")) for c in charts] == [(a["metric"], a.get("variant")) for a in ask]
        assert [s["variant"] for s in charts[0]["series"]] == ["train", "val"] and charts[2]["series"] == []
        for chart in (charts[0], charts[1]):
            params = {"metric": chart["metric"], "samples": 50, "x_min": 10, "x_max": 250}
            if chart.get("variant"):
                params["variant"] = chart["variant"]
            alone = gw.get(f"/api/v1/experiments/{exp}/scalars", params=params).json()["series"]
            assert chart["series"] == alone  # the same buckets as the chart asked by itself
        train = charts[0]["series"][0]
        assert train["downsampled"] and max(train["max"]) == 40.0 and train["x"][0] >= 10
        assert charts[3]["series"][0]["x"] == [] and charts[3]["series"][0]["total_points"] == 0  # out of the zoom

        for body, field in [
            ({"charts": []}, "charts"),
            ({"charts": [{"metric": "m"}] * 51}, "charts"),
            ({"charts": [{"metric": "loss"}, {"metric": "loss", "variant": "val"}]}, "charts[1]"),
            ({"charts": [{"metric": ""}]}, "charts[0].metric"),
            ({"charts": [{"metric": "loss"}], "samples": 0}, "samples"),
            ({"charts": [{"metric": "loss"}], "x_min": "NaN"}, "x_min"),
            ({"charts": [{"metric": "loss", "colour": "red"}]}, "charts[0].colour"),
        ]:
            bad = gw.post(url, json=body)
            assert bad.status_code == 400 and bad.json()["error"]["field"] == field, (body, bad.text)
        missing = gw.post(f"/api/v1/experiments/{new_id()}/scalars/charts", json={"charts": [{"metric": "loss"}]})
        assert missing.status_code == 404


def test_heavy_reads_carry_etags(stack: Stack) -> None:
    exp = new_id()
    open_experiment(stack, exp, project="etag")
    ingest(stack).Append(batch(exp, scalar_event(1, [("m", "v", 0, 1.0)])), metadata=AUTH, timeout=10)
    with gateway(stack) as gw:
        url = f"/api/v1/experiments/{exp}/scalars"
        wait_for("the point", lambda: total_points(gw, exp, "m", "v") == 1)
        first = gw.get(url)
        tag = first.headers["etag"]
        again = gw.get(url, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        ingest(stack).Append(batch(exp, scalar_event(2, [("m", "v", 1, 2.0)])), metadata=AUTH, timeout=10)
        wait_for("the new point", lambda: total_points(gw, exp, "m", "v") == 2)
        changed = gw.get(url, headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag
        for path in ("/api/v1/experiments", f"/api/v1/experiments/{exp}", "/api/v1/projects"):
            r = gw.get(path)
            assert gw.get(path, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_cors_allows_only_configured_origins(stack: Stack) -> None:
    with gateway(stack) as gw:
        preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        r = gw.options("/api/v1/experiments", headers=preflight)
        assert "access-control-allow-origin" not in r.headers
        r = gw.get("/api/v1/experiments", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_cors_lets_a_configured_origin_read(stack: Stack) -> None:
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from gateway.settings import Settings
    from services.common.config import CommonSettings, Env

    settings = Settings(common=CommonSettings.from_env(Env(stack.env())), cors_origins=("https://ok.example",))
    with TestClient(create_app(settings)) as client:
        preflight = {"Origin": "https://ok.example", "Access-Control-Request-Method": "PATCH",
                     "Access-Control-Request-Headers": "Authorization, Idempotency-Key"}  # fmt: skip
        r = client.options("/api/v1/experiments", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://ok.example"
        r = client.options("/api/v1/experiments", headers={**preflight, "Origin": "https://other.example"})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


def test_cors_settings() -> None:
    from gateway.settings import Settings
    from services.common.config import Env

    s = Settings.from_env(Env({"TRACKLANE_CORS_ORIGINS": "https://a.example, https://b.example,"}))
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert Settings.from_env(Env({})).cors_origins == ()
