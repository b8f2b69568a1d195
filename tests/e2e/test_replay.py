"""Every read model rebuilt from the log: a workspace is seeded with everything a user makes (a
training script's every kind of detail, commands, edits, keys, reports, notes, views, MLflow
runs); the stream is cut short so that the older half of the history is only in the archive;
``tracklane-server replay --read-model all`` drops and rebuilds the metrics, metadata and
reporting read models while ingestion goes on; every API answer for the workspace is the same
before and after."""

from __future__ import annotations

import asyncio
import math
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import nats
import pytest
from tracklane_proto import ingest_pb2

from devstack import Stack
from services.common import bus
from services.common.replay import Job, Jobs
from tests.conftest import API_KEY, PYTHON, batch, new_id, scalar_event, start_stack
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for
from tests.e2e.test_sdk_reporting import SCRIPT

pytestmark = pytest.mark.engines

_SIGNED = re.compile(r"^(https?://[^?]+)\?.*$")  # presigned links: new signatures at each answer


def _stable(value: Any) -> Any:
    """An answer without what differs between two reads of the same state (the signatures and
    expiry times of presigned links)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k != "url_expires_at"}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, str):
        return _SIGNED.sub(r"\1", value)
    if isinstance(value, float):
        # nx-27017 (the embedded MongoDB-wire server) writes a document's numbers with 15
        # significant digits when it updates one, and keeps all 17 when it inserts one; a replay's
        # larger batches insert and update documents a different number of times than live ones.
        return float(f"{value:.15g}")
    return value


def _difference(a: Any, b: Any, at: str = "") -> str | None:
    """Where two answers first differ (None: equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(a.keys() | b.keys()):
            found = _difference(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{at}.{k}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{at}: {len(a)} items before, {len(b)} after"
        return next(
            (d for i, (x, y) in enumerate(zip(a, b, strict=True)) if (d := _difference(x, y, f"{at}[{i}]"))), None
        )
    if isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-12):
        # a bucket's mean sums its points in the order of the parts they were inserted in, and a
        # replay inserts in larger groups: the last bit may differ, nothing more
        return None
    return None if a == b else f"{at}: {a!r} before, {b!r} after"


def _seed(stack: Stack, work: Path) -> dict[str, str]:
    """Everything a workspace holds; the ids the snapshot reads."""
    (work / "notes.txt").write_text("line one\nline two\n")
    (work / "model.bin").write_bytes(b"\x00weights" * 100)
    (work / "base.bin").write_bytes(b"base")
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (work / "train.py").write_text(SCRIPT)
    env = dict(os.environ, TRACKLANE_SERVER=stack.ingestion_addr, TRACKLANE_API_KEY=API_KEY,
               TRACKLANE_CACHE_DIR=str(work / "cache"))  # fmt: skip
    run = subprocess.run([PYTHON, "train.py"], cwd=work, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    script = run.stdout.strip().split("ID ")[-1]

    scalars = new_id()
    open_experiment(stack, scalars, project="replay/sweep", name="long run")
    stub = ingest(stack)
    for seq in range(1, 41):
        points = [("loss", "train", seq * 250 + i, 1.0 / (seq * 250 + i + 1)) for i in range(250)]
        stub.Append(batch(scalars, scalar_event(seq, points)), metadata=AUTH, timeout=30)
    with gateway(stack) as gw:
        wait_for(
            "the script's run", lambda: gw.get(f"/api/v1/experiments/{script}").json().get("status") == "completed"
        )
        wait_for("the points", lambda: total_points(gw, scalars, "loss", "train") == 10_000)
        url = f"/api/v1/experiments/{script}"
        assert gw.patch(url, json={"name": "everything, renamed", "description": "replayed"}).status_code == 200
        assert gw.post(f"{url}/tags", json={"add": ["kept"]}).status_code == 200
        r = gw.patch(f"{url}/hyperparameters", json={"section": "General", "set": {"batch": 64}})
        assert r.status_code == 200, r.text
        assert gw.post(f"{url}/publish").status_code == 200
        assert gw.post(f"/api/v1/experiments/{scalars}/stop", json={"reason": "enough"}).status_code in (200, 202)
        assert gw.post(f"/api/v1/experiments/{scalars}/move", json={"project": "replay/done"}).status_code == 200
        assert gw.put(f"{url}/notes", json={"version": 0, "text": "## Why\nbaseline"}).status_code == 200
        assert gw.put("/api/v1/notes", json={"project": "replay", "version": 0, "text": "plan"}).status_code == 200
        view = {"project": "replay/sweep", "name": "best", "state": "order=metrics.loss/train.min", "default": True}
        assert gw.post("/api/v1/views", json=view).status_code == 200
        key = gw.post("/api/v1/keys", json={"name": "ci runner", "role": "member"}).json()
        assert gw.post(f"/api/v1/keys/{key['id']}/revoke").status_code == 200
        assert gw.post("/api/v1/keys", json={"name": "dashboard", "role": "viewer"}).status_code == 201
        report = gw.post("/api/v1/reports", json={"name": "Replayed", "project": "replay"}).json()
        body = f'# Results\n\n<iframe src="/widget/?objectType=task&objects={scalars}&type=scalar&metrics=loss">'
        r = gw.patch(f"/api/v1/reports/{report['id']}", json={"body": body + "</iframe>", "version": report["version"]})
        assert r.status_code == 200, r.text
        assert gw.post(f"/api/v1/reports/{report['id']}/publish").status_code == 200
        team = gw.post("/api/v1/workspaces", json={"id": "team-live", "name": "Live"}).json()
        share = gw.post(f"/api/v1/reports/{report['id']}/share", json={"expires_in_days": 7}).json()
        mlflow = "/api/2.0/mlflow"
        exp_id = gw.post(f"{mlflow}/experiments/create", json={"name": "replay/mlflow"}).json()["experiment_id"]
        run_id = gw.post(f"{mlflow}/runs/create", json={"experiment_id": exp_id}).json()["run"]["info"]["run_id"]
        metrics = [
            {"key": "acc", "value": 0.5 + i / 100, "timestamp": 1_700_000_000_000 + i, "step": i} for i in range(20)
        ]
        r = gw.post(
            f"{mlflow}/runs/log-batch",
            json={"run_id": run_id, "metrics": metrics, "params": [{"key": "lr", "value": "0.1"}]},
        )
        assert r.status_code == 200, r.text
        assert gw.post(f"{mlflow}/runs/update", json={"run_id": run_id, "status": "FINISHED"}).status_code == 200
    return {"script": script, "scalars": scalars, "report": report["id"], "share": share["token"],
            "team_key": team["admin_key"]["key"],
            "mlflow_experiment": exp_id, "mlflow_run": run_id}  # fmt: skip


def _snapshot(stack: Stack, ids: dict[str, str]) -> dict[str, Any]:
    """Every answer the API gives about the workspace (what a user or a client can read)."""
    reads: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/experiments", {}),
        ("/api/v1/experiments", {"archived": "true"}),
        ("/api/v1/experiments", {"filter": "params.General/batch = '64'"}),
        ("/api/v1/projects", {}),
        ("/api/v1/columns", {"project": "vision/resnet"}),
        ("/api/v1/keys", {}),
        ("/api/v1/workspaces", {}),
        ("/api/v1/workspaces/default/members", {}),
        ("/api/v1/reports", {}),
        ("/api/v1/notes", {"project": "replay"}),
        ("/api/v1/views", {"project": "replay/sweep"}),
        ("/api/v1/embeds", {}),
        ("/api/v1/compare", {"ids": f"{ids['script']},{ids['scalars']}"}),
        (f"/api/v1/reports/{ids['report']}", {}),
        (f"/api/v1/shared/{ids['share']}", {}),
    ]
    for exp in (ids["script"], ids["scalars"]):
        url = f"/api/v1/experiments/{exp}"
        reads += [(url, {}), (f"{url}/configuration", {}), (f"{url}/execution", {}), (f"{url}/notes", {}),
                  (f"{url}/scalars", {}), (f"{url}/scalars", {"xaxis": "wall"}), (f"{url}/console", {"limit": 10_000}),
                  (f"{url}/plots", {}), (f"{url}/debug-samples", {}), (f"{url}/artifacts", {}),
                  (f"{url}/models", {})]  # fmt: skip
    mlflow = "/api/2.0/mlflow"
    reads += [
        (f"{mlflow}/experiments/search", {"max_results": 1000}),
        (f"{mlflow}/runs/get", {"run_id": ids["mlflow_run"]}),
        (f"{mlflow}/metrics/get-history", {"run_id": ids["mlflow_run"], "metric_key": "acc"}),
    ]
    out: dict[str, Any] = {}
    with gateway(stack) as gw:
        for path, params in reads:
            r = gw.get(path, params=params)
            assert r.status_code == 200, (path, r.text)
            out[f"{path} {sorted(params.items())}"] = _stable(r.json())
        searched = gw.post(f"{mlflow}/runs/search", json={"experiment_ids": [ids["mlflow_experiment"]]})
        out["runs/search"] = _stable(searched.json())
    return out


async def _stream(nats_url: str, max_msgs: int | None = None) -> tuple[int, int]:
    """(first, last) position of the stream; with ``max_msgs``, after keeping only that many."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(bus.STREAM)
        if max_msgs is not None:
            info.config.max_msgs = max_msgs
            await js.update_stream(info.config)
            info = await js.stream_info(bus.STREAM)
        return int(info.state.first_seq), int(info.state.last_seq)
    finally:
        await nc.close()


def test_replay_rebuilds_every_read_model_equal_past_the_streams_retention(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "stack", TRACKLANE_ARCHIVE_FLUSH_S="0.3")
    try:
        work = tmp_path / "script"
        work.mkdir()
        ids = _seed(stack, work)
        before = _snapshot(stack, ids)

        # A short retention: the older half of the log leaves the stream, once it is archived.
        first, last = asyncio.run(_stream(stack.nats_url))
        from services.artifact import archive
        from services.artifact.store import FileObjectStore

        store = FileObjectStore(stack.data_dir / "objects", b"-", "http://unused")
        wait_for("the archive to hold the whole log", lambda: archive.last_position(store) >= last, timeout=60)
        first, last = asyncio.run(_stream(stack.nats_url, max_msgs=(last - first + 1) // 2))
        assert first > 1  # the stream no longer starts at the beginning

        live = new_id()  # ingestion goes on during the replay (in another workspace: the snapshot stays equal)
        team = (("authorization", f"Bearer {ids['team_key']}"),)
        stub = ingest(stack)
        stub.OpenExperiment(
            ingest_pb2.OpenExperimentRequest(experiment_id=live, project="live", name="run"), metadata=team, timeout=10
        )
        env = dict(os.environ, TRACKLANE_NATS_URL=stack.nats_url)
        replay = subprocess.Popen([PYTHON, "-m", "services", "replay", "--read-model", "all"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        for seq in range(1, 11):
            stub.Append(batch(live, scalar_event(seq, [("acc", "val", seq, seq / 10)])), metadata=team, timeout=30)
        out, err = replay.communicate(timeout=300)
        assert replay.returncode == 0, err
        assert "metrics: done" in out and "metadata: done" in out and "reporting: done" in out, out
        assert "from the archive" in out and "neither" not in out + err  # no gap: the archive covered it
        assert "[" in err and "%" in err  # the progress bar

        after = _snapshot(stack, ids)
        assert after.keys() == before.keys()
        differences = [f"{read}: {d}" for read in before if (d := _difference(before[read], after[read]))]
        assert not differences, "\n".join(differences)
        with gateway(stack, key=ids["team_key"]) as gw:
            wait_for("the points sent during the replay", lambda: total_points(gw, live, "acc", "val") == 10)
        with gateway(stack) as gw:
            # the rebuilt read models go on taking new events
            gw.post(f"/api/v1/experiments/{ids['script']}/tags", json={"add": ["after-replay"]})
            wait_for(
                "a change after the replay",
                lambda: "after-replay" in gw.get(f"/api/v1/experiments/{ids['script']}").json()["tags"],
            )

        # Following again shows the finished replays; a second replay of one model is fresh.
        status = subprocess.run([PYTHON, "-m", "services", "replay", "--read-model", "all", "--status"], env=env,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert status.returncode == 0 and status.stdout.count("done in") == 3, status.stdout + status.stderr
    finally:
        stack.stop()


async def _job(nats_url: str, name: str) -> Job | None:
    nc = await nats.connect(nats_url)
    try:
        return (await (await Jobs.open(nc.jetstream())).get(name))[0]
    finally:
        await nc.close()


@pytest.mark.skipif(os.environ.get("CHAOS_FULL") != "1", reason="two minutes of kill and resume: make chaos runs it")
def test_a_replay_resumes_where_it_was_when_the_service_doing_it_is_killed(tmp_path: Path) -> None:
    # (small replay batches: many of them, so that the kill lands between two, after progress was saved)
    stack = start_stack(tmp_path, TRACKLANE_ARCHIVE_FLUSH_S="0.3", TRACKLANE_REPLAY_LEASE_S="3",
                        TRACKLANE_REPLAY_BATCH="10")  # fmt: skip
    try:
        exp = new_id()
        open_experiment(stack, exp, project="resume")
        stub = ingest(stack)
        events, per_event = 2_000, 10
        for first in range(1, events + 1, 100):
            chunk = [scalar_event(seq, [("loss", "train", seq * per_event + i, 1.0 / seq) for i in range(per_event)])
                     for seq in range(first, first + 100)]  # fmt: skip
            stub.Append(batch(exp, *chunk), metadata=AUTH, timeout=60)
        with gateway(stack) as gw:
            wait_for("the points", lambda: total_points(gw, exp, "loss", "train") == events * per_event, timeout=120)
        from services.artifact import archive
        from services.artifact.store import FileObjectStore

        store = FileObjectStore(stack.data_dir / "objects", b"-", "http://unused")
        _, last = asyncio.run(_stream(stack.nats_url))
        wait_for("the archive", lambda: archive.last_position(store) >= last, timeout=60)

        env = dict(os.environ, TRACKLANE_NATS_URL=stack.nats_url)
        asked = subprocess.run([PYTHON, "-m", "services", "replay", "--read-model", "metrics", "--detach"], env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert asked.returncode == 0 and "replay requested" in asked.stderr, asked.stderr
        midway = wait_for(
            "the replay to be part way through the archive",
            lambda: (j := asyncio.run(_job(stack.nats_url, "metrics"))) and j.phase == "archive" and j.fed > 0 and j,
            timeout=120,
        )
        assert midway.state == "running" and midway.fed < midway.archive_last
        stack.kill("metrics")  # kill -9, in the middle of the archive
        stack.start_service("metrics")

        follow = subprocess.run([PYTHON, "-m", "services", "replay", "--read-model", "metrics"], env=env,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        assert follow.returncode == 0 and "following the replay under way" in follow.stderr, follow.stderr
        done = asyncio.run(_job(stack.nats_url, "metrics"))
        assert done is not None and done.state == "done" and done.takeovers == 1  # resumed, not begun again
        with gateway(stack) as gw:  # every point once: what was applied twice around the kill changed nothing
            assert total_points(gw, exp, "loss", "train") == events * per_event
            series = gw.get(f"/api/v1/experiments/{exp}/scalars", params={"metric": "loss"}).json()["series"][0]
            assert series["last"][-1] == 1.0 / events
    finally:
        stack.stop()
