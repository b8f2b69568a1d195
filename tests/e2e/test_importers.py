"""``tracklane import mlflow`` from a real MLflow tracking server (started here, as ``make bench``
starts one) and from an ``mlruns`` folder written by MLflow itself, and ``tracklane import
tensorboard`` of event files written by tensorboardX: what arrives is what the source has (values,
steps, times, params, tags, statuses, files, histograms, images, text), a second import sends
nothing, and an import after the source went on sends exactly what is new."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.tracking import MlflowClient
from tensorboardX import SummaryWriter
from tracklane import cli
from tracklane._import_mlflow import SOURCE_TAG
from tracklane._import_tensorboard import experiment_id

from devstack import Stack
from tests.conftest import API_KEY
from tests.e2e.helpers import gateway, total_points

pytestmark = pytest.mark.engines
T0 = 1_700_000_000_000  # the source's own times (ms), kept through the import


@pytest.fixture
def to_tracklane(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """The importer's settings (the Tracklane key, ingestion, the gateway) and an MlflowClient of
    the gateway to read back what arrived. MLFLOW_TRACKING_TOKEN is the Tracklane key, as after
    the one-line switch: the importer must not send it to the source server."""
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", API_KEY)
    monkeypatch.setenv("TRACKLANE_API_KEY", API_KEY)
    monkeypatch.setenv("TRACKLANE_SERVER", stack.ingestion_addr)
    monkeypatch.setenv("TRACKLANE_GATEWAY", stack.gateway_url)
    return MlflowClient(tracking_uri=stack.gateway_url)


def _import(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(["import", *argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """A real MLflow tracking server (the pinned dev dependency), artifacts through its proxy."""
    port = _free_port()
    log = open(tmp_path / "mlflow-server.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the MLflow server did not start"
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def _by_source(client: MlflowClient, experiment_id: str) -> dict[str, Any]:
    runs = client.search_runs([experiment_id], run_view_type=ViewType.ALL)
    return {r.data.tags[SOURCE_TAG].removeprefix("mlflow:"): r for r in runs}


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float, int]]:
    return sorted((m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, key))


def test_import_from_an_mlflow_server(
    stack: Stack, mlflow_server: str, to_tracklane: MlflowClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = MlflowClient(tracking_uri=mlflow_server)
    name = f"imported-{secrets.token_hex(3)}"
    eid = src.create_experiment(name, tags={"mlflow.note.content": "from MLflow"})
    done = src.create_run(eid, run_name="finished", start_time=T0, tags={"team": "cv"}).info.run_id
    src.log_batch(
        done,
        metrics=[Metric("loss", 1.0 / (s + 1), T0 + s * 1000, s) for s in range(1500)]
        + [Metric("acc/val", s / 10, T0 + s, s) for s in range(10)]
        + [Metric("odd", float("nan"), T0, 0)],
        params=[Param("lr", "0.01"), Param("layers", "4")],
        tags=[RunTag("mlflow.note.content", "a note"), RunTag("dataset", "imagenet")],
    )
    (tmp_path / "model.txt").write_text("weights\n" * 100)
    src.log_artifact(done, str(tmp_path / "model.txt"), "outputs/final")
    src.set_terminated(done, "FINISHED", end_time=T0 + 60_000)
    failed = src.create_run(eid, run_name="failed", start_time=T0 + 100_000).info.run_id
    src.log_metric(failed, "loss", 3.0, timestamp=T0 + 100_500, step=0)
    src.set_terminated(failed, "FAILED", end_time=T0 + 200_000)
    running = src.create_run(eid, run_name="running", start_time=T0 + 300_000).info.run_id
    src.log_metric(running, "loss", 0.5, timestamp=T0 + 300_100, step=0)

    out = _import(capsys, "mlflow", mlflow_server)
    assert "3 run(s): 3 new" in out and f"sent {1500 + 10 + 1 + 1 + 1} point(s)" in out

    dst = to_tracklane
    experiment = dst.get_experiment_by_name(name)
    assert experiment is not None and experiment.tags.get("mlflow.note.content") == "from MLflow"
    runs = _by_source(dst, experiment.experiment_id)
    assert set(runs) == {done, failed, running}
    got = runs[done]
    assert (got.info.run_name, got.info.status, got.info.start_time, got.info.end_time) == (
        "finished", "FINISHED", T0, T0 + 60_000,
    )  # fmt: skip
    assert got.data.params == {"lr": "0.01", "layers": "4"}
    assert got.data.tags["team"] == "cv" and got.data.tags["dataset"] == "imagenet"
    assert got.data.tags["mlflow.note.content"] == "a note"
    for key in ("loss", "acc/val"):
        assert _history(dst, got.info.run_id, key) == _history(src, done, key)
    assert np.isnan(_history(dst, got.info.run_id, "odd")[0][1])
    downloaded = dst.download_artifacts(got.info.run_id, "outputs/final/model.txt", str(tmp_path / "down"))
    assert Path(downloaded).read_text() == "weights\n" * 100
    assert (runs[failed].info.status, runs[failed].info.end_time) == ("FAILED", T0 + 200_000)
    assert runs[running].info.status == "RUNNING"
    with gateway(stack) as gw:  # and in Tracklane's own terms
        e = gw.get(f"/api/v1/experiments/{got.info.run_id}").json()
        assert (e["project"], e["name"], e["status"]) == (name, "finished", "completed")
        assert total_points(gw, got.info.run_id, "acc", "val") == 10

    assert "nothing new to import" in _import(capsys, "mlflow", mlflow_server)
    assert len(_history(dst, got.info.run_id, "loss")) == 1500

    # the source goes on: the next import brings exactly what is new
    src.log_batch(running, metrics=[Metric("loss", 0.1 * s, T0 + 300_200 + s, s) for s in range(1, 6)])
    src.log_param(running, "seed", "7")
    src.set_terminated(running, "FINISHED", end_time=T0 + 400_000)
    out = _import(capsys, "mlflow", mlflow_server)
    assert "0 new; sent 5 point(s), 1 param(s), 0 tag(s), 0 file(s), 1 status change(s)" in out
    again = dst.get_run(runs[running].info.run_id)
    assert (again.info.status, again.info.end_time, again.data.params) == ("FINISHED", T0 + 400_000, {"seed": "7"})
    assert _history(dst, again.info.run_id, "loss") == _history(src, running, "loss")


def test_import_from_an_mlruns_folder(
    to_tracklane: MlflowClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store for old folders
    src = MlflowClient(tracking_uri=f"file://{tmp_path}/mlruns")
    name = f"from mlruns: a long experiment name that PyYAML folds onto a second line {secrets.token_hex(3)}"
    eid = src.create_experiment(name)
    run = src.create_run(eid, run_name="folder run", start_time=T0).info.run_id
    src.log_batch(run, metrics=[Metric("loss/train", 1.0 / (s + 1), T0 + s, s) for s in range(20)],
                  params=[Param("lr", "0.1")], tags=[RunTag("owner", "ana")])  # fmt: skip
    (tmp_path / "notes.md").write_text("# notes\n")
    src.log_artifact(run, str(tmp_path / "notes.md"))
    src.set_terminated(run, "KILLED", end_time=T0 + 5_000)
    deleted = src.create_run(eid, run_name="deleted").info.run_id
    src.delete_run(deleted)

    out = _import(capsys, "mlflow", str(tmp_path))  # the folder holding mlruns, or mlruns itself
    assert "1 run(s): 1 new; sent 20 point(s), 1 param(s)" in out

    dst = to_tracklane
    experiment = dst.get_experiment_by_name(name)
    assert experiment is not None
    (got,) = _by_source(dst, experiment.experiment_id).values()
    assert (got.info.run_name, got.info.status, got.info.start_time, got.info.end_time) == (
        "folder run", "KILLED", T0, T0 + 5_000,
    )  # fmt: skip
    assert got.data.params == {"lr": "0.1"} and got.data.tags["owner"] == "ana"
    assert _history(dst, got.info.run_id, "loss/train") == _history(src, run, "loss/train")
    assert Path(dst.download_artifacts(got.info.run_id, "notes.md", str(tmp_path / "d"))).read_text() == "# notes\n"
    assert "nothing new to import" in _import(capsys, "mlflow", str(tmp_path / "mlruns"))
    dst.delete_run(got.info.run_id)  # deleted in Tracklane: a later import leaves it alone
    assert "nothing new to import" in _import(capsys, "mlflow", str(tmp_path / "mlruns"))


def _write_tensorboard(folder: Path, steps: range, *, extras: bool = True) -> None:
    w = SummaryWriter(str(folder))
    for s in steps:
        w.add_scalar("loss/train", 1.0 / (s + 1), s)
        w.add_scalar("accuracy", s / 100, s)
    if extras:
        w.add_histogram("weights/layer1", np.linspace(-1, 1, 500), 3)
        rng = np.random.default_rng(0)
        w.add_image("inputs/sample", rng.random((3, 16, 16)), 4)
        w.add_text("notes", "first line\nsecond line", 1)
    w.close()


def test_import_tensorboard_logs(stack: Stack, to_tracklane: MlflowClient, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    logdir = tmp_path / "tb"
    _write_tensorboard(logdir / "resnet", range(30))
    _write_tensorboard(logdir / "vit" / "train", range(10), extras=False)
    project = f"tb-{secrets.token_hex(3)}"

    out = _import(capsys, "tensorboard", str(logdir), "--project", project)
    assert "2 run(s): 2 new; sent 80 point(s), 1 histogram(s), 1 image(s), 2 line(s) of text" in out

    resnet, vit = experiment_id(project, "resnet"), experiment_id(project, "vit/train")
    with gateway(stack) as gw:
        e = gw.get(f"/api/v1/experiments/{resnet}").json()
        assert (e["project"], e["name"], e["status"]) == (project, "resnet", "completed")
        assert gw.get(f"/api/v1/experiments/{vit}").json()["name"] == "vit/train"
        assert total_points(gw, resnet, "loss", "train") == 30
        assert total_points(gw, resnet, "accuracy", "accuracy") == 30
        assert total_points(gw, vit, "loss", "train") == 10
        points = gw.get(f"/api/v1/experiments/{resnet}/scalars", params={"metric": "loss", "variant": "train"}).json()
        (series,) = points["series"]
        assert series["last"][:3] == [1.0, 0.5, pytest.approx(1 / 3)] and series["x"][:3] == [0, 1, 2]
        (plot,) = gw.get(f"/api/v1/experiments/{resnet}/plots").json()["plots"]
        assert (plot["metric"], plot["variant"], plot["iteration"], plot["kind"]) == (
            "weights",
            "layer1",
            3,
            "histogram",
        )
        assert sum(plot["figure"]["data"][0]["y"]) == pytest.approx(500) and len(plot["figure"]["data"][0]["y"]) == 30
        (sample,) = gw.get(f"/api/v1/experiments/{resnet}/debug-samples").json()["samples"]
        assert (sample["metric"], sample["variant"], sample["iteration"], sample["kind"]) == (
            "inputs",
            "sample",
            4,
            "image",
        )
        image = httpx.get(sample["url"] if sample["url"].startswith("http") else stack.gateway_url + sample["url"],
                          headers={"Authorization": f"Bearer {API_KEY}"}, follow_redirects=True)  # fmt: skip
        assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
        lines = [ln["text"] for ln in gw.get(f"/api/v1/experiments/{resnet}/console").json()["lines"]]
        assert lines == ["[notes @ 1] first line", "[notes @ 1] second line"]

    assert "nothing new to import" in _import(capsys, "tensorboard", str(logdir), "--project", project)
    with gateway(stack) as gw:
        assert total_points(gw, resnet, "loss", "train") == 30

    # training went on (a new event file, as a resumed SummaryWriter writes): only that comes
    _write_tensorboard(logdir / "resnet", range(30, 35), extras=False)
    out = _import(capsys, "tensorboard", str(logdir), "--project", project)
    assert "2 run(s): 0 new; sent 10 point(s), 0 histogram(s), 0 image(s), 0 line(s) of text" in out
    with gateway(stack) as gw:
        assert total_points(gw, resnet, "loss", "train") == 35
        assert len(gw.get(f"/api/v1/experiments/{resnet}/plots").json()["plots"]) == 1
