"""The first path, end to end across real processes: a training script -> SDK -> gRPC ->
ingestion -> JetStream -> metrics (ClickHouse) and metadata (MongoDB wire) -> gateway."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from devstack import Stack
from tests.conftest import API_KEY, PYTHON
from tests.e2e.helpers import gateway, wait_for

pytestmark = pytest.mark.engines

SCRIPT = textwrap.dedent(
    """
    import tracklane
    with tracklane.init(project="demo", name="first") as exp:
        for i in range(100_000):
            exp.log_scalar("loss", "train", 1 / (i + 1), iteration=i)
    print(exp.id)
    """
)


def test_a_training_script_reaches_the_chart_and_the_table(stack: Stack, tmp_path: object) -> None:
    env = dict(os.environ, TRACKLANE_SERVER=stack.ingestion_addr, TRACKLANE_API_KEY=API_KEY)
    run = subprocess.run([PYTHON, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=True)
    experiment_id = run.stdout.strip()
    assert len(experiment_id) == 32, run.stderr

    with gateway(stack) as gw:

        def chart() -> dict[str, object] | None:
            r = gw.get(
                f"/api/v1/experiments/{experiment_id}/scalars",
                params={"metric": "loss", "variant": "train", "samples": 2000, "xaxis": "iter"},
            )
            body = r.json() if r.status_code == 200 else None
            return body if body and body["series"] and body["series"][0]["total_points"] == 100_000 else None

        series = wait_for("100,000 points to be queryable", chart)["series"][0]  # type: ignore[index]
        assert series["downsampled"] and len(series["x"]) == 2000
        assert sum(series["count"]) == 100_000  # the buckets cover every point
        assert series["x"][0] >= 0 and series["x"][-1] == 99_999
        assert series["max"][0] == 1.0 and series["last"][-1] == pytest.approx(1e-5)
        assert all(lo <= mean <= hi for lo, mean, hi in zip(series["min"], series["mean"], series["max"], strict=True))

        def completed() -> dict[str, object] | None:
            body = gw.get(f"/api/v1/experiments/{experiment_id}").json()
            return body if body.get("status") == "completed" and body.get("metrics") else None

        exp = wait_for("the experiment to be completed with its summary", completed)
        assert exp["project"] == "demo" and exp["name"] == "first" and exp["ended_at"]
        [summary] = exp["metrics"]  # type: ignore[misc]
        assert summary == {
            "metric": "loss", "variant": "train", "last": pytest.approx(1e-5), "min": pytest.approx(1e-5),
            "max": 1.0, "last_iteration": 99_999,
        }  # fmt: skip

        listing = gw.get("/api/v1/experiments", params={"project": "demo"}).json()
        assert experiment_id in [e["id"] for e in listing["experiments"]]
        assert all(e["project"] == "demo" for e in listing["experiments"])
        assert listing["total"] >= 1


def test_the_gateway_wants_a_key_and_answers_json_errors(stack: Stack) -> None:
    with gateway(stack, key=None) as anonymous:
        r = anonymous.get("/api/v1/experiments")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    with gateway(stack, key="tl_wrong") as wrong:
        r = wrong.get("/api/v1/experiments")
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    with gateway(stack) as gw:
        r = gw.get("/api/v1/experiments/" + "0" * 32)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = gw.get("/api/v1/experiments/not-an-id/scalars")
        assert r.status_code == 404
        r = gw.get("/api/v1/experiments", params={"page_size": 0})
        assert r.status_code == 400 and r.json()["error"]["field"] == "page_size"
        assert gw.get("/healthz").json() == {"status": "ok"}
        assert gw.get("/readyz").status_code == 200
        r = gw.get("/healthz", headers={"X-Request-Id": "req-123"})
        assert r.headers["x-request-id"] == "req-123"
        assert len(gw.get("/healthz", headers={"X-Request-Id": "bad id; <script>"}).headers["x-request-id"]) == 32
        metrics = gw.get("/metrics/").text
        assert (
            'tracklane_gateway_requests_total{method="GET",route="/api/v1/experiments/{experiment_id}",status="404"}'
            in metrics
        )
        assert 'route="/api/v1/experiments",status="401"' in metrics
