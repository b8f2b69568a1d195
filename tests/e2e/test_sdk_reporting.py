"""Every kind a training script reports, through real processes: SDK -> ingestion -> JetStream ->
the projection that owns it -> that service's gRPC API -> the gateway. What was logged is what
the gateway returns."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import Stack
from tests.conftest import API_KEY, PYTHON
from tests.e2e.helpers import gateway, wait_for

pytestmark = pytest.mark.engines

SCRIPT = textwrap.dedent(
    r"""
    import argparse, sys, time
    import numpy as np, pandas as pd
    import plotly.graph_objects as go
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tracklane

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(["--lr", "0.05"])

    exp = tracklane.init(project="vision/resnet", name="everything", tags=["v1"], monitor_interval=0.5,
                         capture_env=["TL_TEST_*"])
    exp.log_params({"batch": 32, "optim": {"name": "sgd", "momentum": 0.9}}, section="General")
    exp.connect_configuration({"layers": [64, 128], "dropout": 0.1}, name="model")
    exp.connect_configuration("depth: 50\nwidth: 2\n", name="arch")
    exp.set_user_properties(team="cv", owner="ada")
    exp.add_tags("nightly")
    for i in range(5):
        exp.log_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
    exp.log_scalar("loss", "nan", float("nan"), iteration=0)
    exp.log_scalar("loss", "inf", float("inf"), iteration=0)
    print("hello stdout")
    print("error line", file=sys.stderr)
    for pct in range(0, 101, 25):
        sys.stdout.write(f"\rprogress {pct}%")
    sys.stdout.write("\n")
    exp.log_text("a warning from the script", level="warning")
    exp.log_plot("curves", "plotly", go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2])), iteration=1)
    exp.log_plot("curves", "dict", {"data": [{"type": "bar", "x": ["a"], "y": [1]}]}, iteration=2)
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [1, 4, 9])
    fig.suptitle("parabola")
    plt.show()
    exp.log_table("metrics", "per class", pd.DataFrame({"cls": ["cat", "dog"], "f1": [0.9, 0.8]}), iteration=0)
    exp.log_confusion_matrix("confusion", "val", [[5, 1], [2, 7]], labels=["cat", "dog"], iteration=3)
    exp.log_histogram("weights", "layer1", np.arange(1000.0), iteration=0, bins=10)
    for it in range(4):
        exp.log_image("samples", "input", np.full((8, 8, 3), it * 60, dtype=np.uint8), iteration=it)
    exp.log_audio("sound", "beep", np.sin(np.linspace(0, 100, 8000)), iteration=0, sample_rate=8000)
    exp.log_html("report", "page", "<h1>hi</h1>", iteration=0)
    exp.log_video("clip", "episode", b"\x00\x00\x00\x18ftypmp42", iteration=0)
    exp.upload_artifact("stats", {"accuracy": 0.93}, metadata={"split": "val"})
    exp.upload_artifact("table", pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    exp.upload_artifact("weights", np.arange(6).reshape(2, 3))
    exp.upload_artifact("notes", "notes.txt")
    exp.log_model("model.bin", name="resnet", framework="pytorch")
    exp.log_model("base.bin", name="pretrained", framework="pytorch", input=True)
    time.sleep(1.5)  # a few machine-metric samples
    exp.close()
    print("ID", exp.id)
    """
)


def _get(gw: httpx.Client, path: str, **params: Any) -> Any:
    r = gw.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def reported(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("script")
    (work / "notes.txt").write_text("line one\nline two\n")
    (work / "model.bin").write_bytes(b"\x00weights" * 100)
    (work / "base.bin").write_bytes(b"base")
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=work, check=True)  # fmt: skip
    (work / "train.py").write_text(SCRIPT)
    env = dict(
        os.environ,
        TRACKLANE_SERVER=stack.ingestion_addr,
        TRACKLANE_API_KEY=API_KEY,
        TRACKLANE_CACHE_DIR=str(work / "cache"),
        TL_TEST_VISIBLE="yes",
        TL_TEST_TOKEN="s3cret",
    )
    run = subprocess.run([PYTHON, "train.py"], cwd=work, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert "hello stdout" in run.stdout  # the console still reaches the terminal
    experiment_id = run.stdout.strip().split("ID ")[-1]
    with gateway(stack) as gw:
        wait_for(
            "the run to be completed with its files",
            lambda: (
                gw.get(f"/api/v1/experiments/{experiment_id}").json().get("status") == "completed"
                and len(_get(gw, f"/api/v1/experiments/{experiment_id}/artifacts")["artifacts"]) == 4
                and len(_get(gw, f"/api/v1/experiments/{experiment_id}/debug-samples")["samples"]) == 4
            ),
        )
    return experiment_id


def test_parameters_configuration_properties_and_tags(stack: Stack, reported: str) -> None:
    with gateway(stack) as gw:
        exp = _get(gw, f"/api/v1/experiments/{reported}")
        assert exp["project"] == "vision/resnet" and sorted(exp["tags"]) == ["nightly", "v1"]
        cfg = _get(gw, f"/api/v1/experiments/{reported}/configuration")
        sections = {s["section"]: {p["name"]: p for p in s["params"]} for s in cfg["hyperparameters"]}
        assert sections["General"]["batch"]["value"] == "32" and sections["General"]["batch"]["type"] == "int"
        assert sections["General"]["optim/momentum"]["value"] == "0.9"
        assert sections["Args"]["lr"]["value"] == "0.05" and sections["Args"]["epochs"]["value"] == "3"
        configs = {c["name"]: c for c in cfg["configurations"]}
        assert json.loads(configs["model"]["text"]) == {"layers": [64, 128], "dropout": 0.1}
        assert configs["arch"]["content_type"] == "yaml" and "depth: 50" in configs["arch"]["text"]
        assert cfg["properties"] == {"team": "cv", "owner": "ada"}
        # the experiment table filters on what the script reported
        table = _get(gw, "/api/v1/experiments", filter="params.Args/lr = '0.05' AND tags.team = 'cv'")
        assert reported in [e["id"] for e in table["experiments"]]


def test_execution_is_captured(stack: Stack, reported: str) -> None:
    with gateway(stack) as gw:
        ex = _get(gw, f"/api/v1/experiments/{reported}/execution")
    assert len(ex["commit"]) == 40 and ex["branch"] in ("master", "main")
    assert ex["entry_point"] == "train.py" and ex["working_dir"].endswith("script0")
    assert any(p.startswith("numpy==") for p in ex["packages"])
    assert ex["environment"] == {"TL_TEST_TOKEN": "***", "TL_TEST_VISIBLE": "yes"}  # opted in; secrets masked
    assert int(ex["runtime"]["cpu_cores"]) >= 1 and ex["runtime"]["hostname"]


def test_scalars_keep_nan_and_infinity_and_machine_metrics_arrive(stack: Stack, reported: str) -> None:
    with gateway(stack) as gw:
        series = {(s["metric"], s["variant"]): s for s in _get(gw, f"/api/v1/experiments/{reported}/scalars")["series"]}
        exp = _get(gw, f"/api/v1/experiments/{reported}")
    assert series[("loss", "train")]["last"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert series[("loss", "nan")]["last"] == ["NaN"] and series[("loss", "inf")]["last"] == ["Infinity"]
    summaries = {(m["metric"], m["variant"]): m for m in exp["metrics"]}
    assert summaries[("loss", "nan")]["last"] == "NaN" and summaries[("loss", "train")]["min"] == 0.2
    assert (":monitor:cpu", "usage %") in series and (":monitor:memory", "used GB") in series


def test_console(stack: Stack, reported: str) -> None:
    with gateway(stack) as gw:
        page = _get(gw, f"/api/v1/experiments/{reported}/console", limit=10_000)
        texts = [(ln["source"], ln["text"]) for ln in page["lines"]]
        assert ("stdout", "hello stdout") in texts and ("stderr", "error line") in texts
        assert ("stdout", "progress 100%") in texts  # \r progress lines collapse to their final state
        assert not any("progress 25%" in t for _, t in texts)
        warning = next(ln for ln in page["lines"] if ln["text"] == "a warning from the script")
        assert warning["level"] == "warning" and warning["source"] == "log"
        tail = _get(gw, f"/api/v1/experiments/{reported}/console", tail=1)["lines"]
        assert tail == page["lines"][-1:]
        first = _get(gw, f"/api/v1/experiments/{reported}/console", limit=1)
        rest = _get(gw, f"/api/v1/experiments/{reported}/console", after=first["next_after"], limit=10_000)
        assert first["lines"] + rest["lines"] == page["lines"] and first["more"]
        found = _get(gw, f"/api/v1/experiments/{reported}/console", search="ERROR LINE")
        assert [ln["text"] for ln in found["lines"]] == ["error line"]
        download = gw.get(f"/api/v1/experiments/{reported}/console", params={"format": "text"})
        assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
        assert download.text.splitlines() == [t for _, t in texts]


def test_plots_tables_and_histograms(stack: Stack, reported: str) -> None:
    with gateway(stack) as gw:
        plots = {(p["metric"], p["variant"]): p for p in _get(gw, f"/api/v1/experiments/{reported}/plots")["plots"]}
        at1 = _get(gw, f"/api/v1/experiments/{reported}/plots", iteration=1)["plots"]
    assert plots[("curves", "plotly")]["figure"]["data"][0]["y"] == [3, 1, 2]
    assert plots[("curves", "dict")]["iteration"] == 2
    assert [(p["metric"], p["variant"]) for p in at1] == [("curves", "plotly")]
    mpl = plots[("parabola", "plt.show")]
    assert mpl["kind"] == "matplotlib" and mpl["figure"]["layout"]["images"][0]["source"].startswith("data:image/png")
    table = plots[("metrics", "per class")]["figure"]["data"][0]
    assert table["type"] == "table" and table["cells"]["values"][1] == ["cat", "dog"]
    cm = plots[("confusion", "val")]
    assert cm["kind"] == "confusion_matrix" and cm["figure"]["data"][0]["z"] == [[5, 1], [2, 7]]
    hist = plots[("weights", "layer1")]["figure"]["histogram"]
    assert sum(hist["counts"]) == 1000 and len(hist["edges"]) == 11


def test_debug_samples_with_navigation_and_downloads(stack: Stack, reported: str) -> None:
    with gateway(stack) as gw:
        samples = {s["metric"]: s for s in _get(gw, f"/api/v1/experiments/{reported}/debug-samples")["samples"]}
        image = samples["samples"]
        assert (image["iteration"], image["previous_iteration"], image["next_iteration"]) == (3, 2, None)
        body = httpx.get(image["url"], timeout=10)
        assert body.status_code == 200 and body.content[:8] == b"\x89PNG\r\n\x1a\n"
        older = _get(gw, f"/api/v1/experiments/{reported}/debug-samples", metric="samples", iteration=1)["samples"]
        assert [(s["iteration"], s["previous_iteration"], s["next_iteration"]) for s in older] == [(1, 0, 2)]
        assert samples["sound"]["kind"] == "audio" and httpx.get(samples["sound"]["url"]).content[:4] == b"RIFF"
        assert httpx.get(samples["report"]["url"]).text == "<h1>hi</h1>"
        clip = samples["clip"]
        assert clip["kind"] == "video" and clip["content_type"] == "video/mp4"
        assert httpx.get(clip["url"]).content[4:8] == b"ftyp"


def test_artifacts_and_models(stack: Stack, reported: str) -> None:
    with gateway(stack) as gw:
        arts = {a["name"]: a for a in _get(gw, f"/api/v1/experiments/{reported}/artifacts")["artifacts"]}
        assert json.loads(httpx.get(arts["stats"]["url"]).content) == {"accuracy": 0.93}
        assert arts["stats"]["metadata"] == {"split": "val"} and arts["stats"]["type"] == "dict"
        assert arts["table"]["type"] == "dataframe" and httpx.get(arts["table"]["url"]).text.startswith(",a,b")
        assert arts["weights"]["type"] == "numpy" and "(2, 3)" in arts["weights"]["preview"]
        notes = arts["notes"]
        assert notes["size"] == 18 and len(notes["sha256"]) == 64
        preview = _get(gw, notes["preview_url"])
        assert preview["text"] == "line one\nline two\n" and not preview["truncated"]
        assert gw.get(arts["weights"]["preview_url"]).status_code == 415  # binary: download it instead
        models = {m["name"]: m for m in _get(gw, f"/api/v1/experiments/{reported}/models")["models"]}
        assert models["resnet"]["direction"] == "output" and models["pretrained"]["direction"] == "input"
        assert models["resnet"]["framework"] == "pytorch"
        assert httpx.get(models["resnet"]["url"]).content == b"\x00weights" * 100


def test_editing_hyperparameters_and_properties(stack: Stack, reported: str) -> None:
    with gateway(stack) as gw:
        edit = {"section": "General", "set": {"batch": 64}, "remove": ["optim/name"]}
        r = gw.patch(f"/api/v1/experiments/{reported}/hyperparameters", json=edit)
        assert r.status_code == 200, r.text
        r = gw.patch(f"/api/v1/experiments/{reported}/properties", json={"set": {"owner": "grace"}, "remove": ["team"]})
        assert r.status_code == 200, r.text
        cfg = _get(gw, f"/api/v1/experiments/{reported}/configuration")
        general = {
            p["name"]: p["value"] for s in cfg["hyperparameters"] if s["section"] == "General" for p in s["params"]
        }
        assert general["batch"] == "64" and "optim/name" not in general
        assert cfg["properties"] == {"owner": "grace"}
        bad = gw.patch(f"/api/v1/experiments/{reported}/hyperparameters", json={"set": {"x": [1]}})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "set"
        bad = gw.patch(f"/api/v1/experiments/{reported}/properties", json={"set": {"": "x"}})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "set"
        assert gw.patch(f"/api/v1/experiments/{reported}/properties", json={"oops": 1}).status_code == 400


def test_published_experiments_refuse_parameter_edits(stack: Stack, tmp_path: Path) -> None:
    env = dict(os.environ, TRACKLANE_SERVER=stack.ingestion_addr, TRACKLANE_API_KEY=API_KEY,
               TRACKLANE_CACHE_DIR=str(tmp_path))  # fmt: skip
    script = "import tracklane\nwith tracklane.init(project='p', name='pub', monitor_interval=None) as e:\n"
    script += "    e.log_params({'lr': 1})\nprint(e.id)\n"
    run = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True)
    exp = run.stdout.strip()
    with gateway(stack) as gw:
        wait_for("completion", lambda: gw.get(f"/api/v1/experiments/{exp}").json().get("status") == "completed")
        assert gw.post(f"/api/v1/experiments/{exp}/publish").status_code == 200
        r = gw.patch(f"/api/v1/experiments/{exp}/hyperparameters", json={"set": {"lr": 2}})
        assert r.status_code == 409
        assert gw.patch(f"/api/v1/experiments/{exp}/properties", json={"set": {"a": "b"}}).status_code == 409
        assert gw.post(f"/api/v1/experiments/{exp}/stop").status_code == 409  # not running
        params = _get(gw, f"/api/v1/experiments/{exp}/configuration")["hyperparameters"]
        assert params == [{"section": "General", "params": [{"name": "lr", "value": "1", "type": "int",
                                                             "description": ""}]}]  # fmt: skip


def test_the_example_tour_runs(stack: Stack, tmp_path: Path) -> None:
    env = dict(os.environ, TRACKLANE_SERVER=stack.ingestion_addr, TRACKLANE_API_KEY=API_KEY,
               TRACKLANE_CACHE_DIR=str(tmp_path))  # fmt: skip
    tour = Path(__file__).parents[2] / "examples" / "tour.py"
    cmd = [PYTHON, str(tour), "--epochs", "2", "--steps", "20", "--sleep", "0"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    exp = run.stdout.split("experiment ")[1][:32]
    with gateway(stack) as gw:
        wait_for("the tour to complete", lambda: gw.get(f"/api/v1/experiments/{exp}").json()["status"] == "completed")
        wait_for("its model", lambda: _get(gw, f"/api/v1/experiments/{exp}/models")["models"])
        series = {(s["metric"], s["variant"]) for s in _get(gw, f"/api/v1/experiments/{exp}/scalars")["series"]}
        assert {("loss", "train"), ("loss", "validation"), ("accuracy", "train")} <= series
        nan = _get(gw, f"/api/v1/experiments/{exp}/scalars", metric="loss", variant="nan-example")["series"][0]
        assert nan["last"][0] == 0.0  # set_nan_value(0.0)


def test_tensorboard_scalars_are_captured(stack: Stack, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import tracklane
        exp = tracklane.init(project="tb", name="writer", monitor_interval=None)
        from tensorboardX import SummaryWriter  # imported after init: still caught
        writer = SummaryWriter({str(tmp_path / "tb")!r})
        for step in range(5):
            writer.add_scalar("loss/train", 1.0 / (step + 1), step)
            writer.add_scalar("accuracy", step / 10, step)
        writer.close()
        exp.close()
        print("ID", exp.id)
        """
    )
    env = dict(os.environ, TRACKLANE_SERVER=stack.ingestion_addr, TRACKLANE_API_KEY=API_KEY,
               TRACKLANE_CACHE_DIR=str(tmp_path))  # fmt: skip
    run = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    exp = run.stdout.strip().split("ID ")[-1]
    assert list((tmp_path / "tb").iterdir())  # TensorBoard still got its event file
    with gateway(stack) as gw:
        wait_for("completion", lambda: gw.get(f"/api/v1/experiments/{exp}").json()["status"] == "completed")
        series = {(s["metric"], s["variant"]): s for s in _get(gw, f"/api/v1/experiments/{exp}/scalars")["series"]}
    assert series[("loss", "train")]["last"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert series[("accuracy", "accuracy")]["x"] == [0, 1, 2, 3, 4]
