"""The real ``mlflow`` client (the pinned release of the dev dependencies) against the gateway:
the tracking quickstart, log_batch at MLflow's limits and one over, a logged param that cannot
change, search_runs with filters on metrics, params, tags and attributes and ordering, the metric
history, runs renamed, ended, deleted and restored, and a run of the Tracklane SDK read back through
``MlflowClient``. What MLflow logs shows in Tracklane's own API like any run."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow  # a dev dependency: the real client, never skipped
import pytest

from devstack import Stack
from tests.conftest import API_KEY, batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines


@pytest.fixture
def tracking(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An MlflowClient of the gateway, signed with the test key (MLFLOW_TRACKING_TOKEN)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack.gateway_url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", API_KEY)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(stack.gateway_url)
    yield mlflow.tracking.MlflowClient(tracking_uri=stack.gateway_url)
    if mlflow.active_run():
        mlflow.end_run()


def test_the_tracking_quickstart(stack: Stack, tracking: Any) -> None:
    name = f"mlflow-quick-{secrets.token_hex(3)}"
    experiment = mlflow.set_experiment(name)
    assert experiment.name == name and tracking.get_experiment(experiment.experiment_id).name == name
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"batch": 32, "optimizer": "adam"})
        for step in range(10):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metric("acc/val", step / 10, step=step)
        mlflow.set_tag("team", "cv")
        mlflow.set_tags({"dataset": "imagenet"})
    got = tracking.get_run(run.info.run_id)
    assert got.info.run_name == "baseline" and got.info.status == "FINISHED" and got.info.end_time
    assert got.info.experiment_id == experiment.experiment_id
    assert got.data.params == {"lr": "0.01", "batch": "32", "optimizer": "adam"}
    assert got.data.metrics == {"loss": pytest.approx(0.1), "acc/val": pytest.approx(0.9)}
    assert got.data.tags["team"] == "cv" and got.data.tags["dataset"] == "imagenet"
    assert got.data.tags["mlflow.runName"] == "baseline"
    history = tracking.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, pytest.approx(1.0 / (s + 1))) for s in range(10)]
    import httpx

    bulk = httpx.get(f"{stack.gateway_url}/api/2.0/mlflow/metrics/get-history-bulk-interval",
                     params=[("run_ids", run.info.run_id), ("metric_key", "loss"), ("start_step", "2"),
                             ("end_step", "7")], headers={"Authorization": f"Bearer {API_KEY}"})  # fmt: skip
    assert bulk.status_code == 200, bulk.text
    steps = [m["step"] for m in bulk.json()["metrics"]]
    assert steps == sorted(steps) and set(steps) <= set(range(2, 8)) and 2 in steps and 7 in steps
    assert {m["run_id"] for m in bulk.json()["metrics"]} == {run.info.run_id}

    # the same run in Tracklane's own API: project = experiment, metric/variant from the key
    with gateway(stack) as gw:
        e = gw.get(f"/api/v1/experiments/{run.info.run_id}").json()
        assert (e["project"], e["name"], e["status"]) == (name, "baseline", "completed")
        series = {(m["metric"], m["variant"]): m["last"] for m in e["metrics"]}
        assert series[("loss", "loss")] == pytest.approx(0.1) and series[("acc", "val")] == pytest.approx(0.9)
        params = gw.get(f"/api/v1/experiments/{run.info.run_id}/configuration").json()["hyperparameters"]
        assert {p["name"]: p["value"] for s in params if s["section"] == "General" for p in s["params"]}["lr"] == "0.01"


def test_experiments_renamed_deleted_and_restored(stack: Stack, tracking: Any) -> None:
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    name = f"mlflow-life-{secrets.token_hex(3)}"
    eid = tracking.create_experiment(name, tags={"mlflow.note.content": "sweeps"})
    runs = [tracking.create_run(eid, run_name=f"r{i}").info.run_id for i in range(2)]
    tracking.log_metric(runs[0], "loss", 0.5, step=1)

    renamed = name + "-v2"
    tracking.rename_experiment(eid, renamed)
    got = tracking.get_experiment(eid)  # the id does not change with the name
    assert (got.name, got.lifecycle_stage, got.tags.get("mlflow.note.content")) == (renamed, "active", "sweeps")
    assert tracking.get_experiment_by_name(name) is None
    assert {r.info.run_id for r in tracking.search_runs([eid])} == set(runs)
    assert tracking.get_run(runs[0]).info.experiment_id == eid
    assert tracking.get_run(runs[0]).data.metrics == {"loss": 0.5}
    again = tracking.create_experiment(name)  # the name the rename freed, used again: its own id
    assert again != eid and tracking.get_experiment(again).name == name
    assert tracking.get_experiment(eid).name == renamed and tracking.search_runs([again]) == []
    assert {e.name for e in tracking.search_experiments() if e.experiment_id in (eid, again)} == {name, renamed}
    with pytest.raises(MlflowException, match="already exists"):
        tracking.rename_experiment(eid, "Default")
    with pytest.raises(MlflowException, match="no empty part"):
        tracking.rename_experiment(eid, "a//b")
    with pytest.raises(MlflowException, match="no empty part"):
        tracking.create_experiment("/leading-slash")

    tracking.delete_experiment(eid)
    assert tracking.get_experiment(eid).lifecycle_stage == "deleted"
    assert eid not in {e.experiment_id for e in tracking.search_experiments()}
    assert eid in {e.experiment_id for e in tracking.search_experiments(view_type=ViewType.DELETED_ONLY)}
    assert tracking.search_runs([eid]) == [] and len(tracking.search_runs([eid], run_view_type=ViewType.ALL)) == 2
    assert tracking.get_run(runs[1]).info.lifecycle_stage == "deleted"

    tracking.restore_experiment(eid)
    assert tracking.get_experiment(eid).lifecycle_stage == "active"
    assert {r.info.run_id for r in tracking.search_runs([eid])} == set(runs)
    with gateway(stack) as gw:  # the same in Tracklane: the runs live in the renamed project
        e = gw.get(f"/api/v1/experiments/{runs[1]}").json()
        assert (e["project"], e["archived"]) == (renamed, False)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        tracking.delete_experiment("123456789")


def test_log_batch_at_its_limits_and_over_them(stack: Stack, tracking: Any) -> None:
    import httpx
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException

    exp = tracking.create_experiment(f"mlflow-limits-{secrets.token_hex(3)}")
    run = tracking.create_run(exp, run_name="limits")
    rid = run.info.run_id
    tracking.log_batch(rid, metrics=[Metric("m", float(i), 1_700_000_000_000 + i, i) for i in range(1000)])
    tracking.log_batch(rid, params=[Param(f"p{i}", str(i)) for i in range(100)])
    tracking.log_batch(rid, tags=[RunTag(f"t{i}", str(i)) for i in range(100)])
    # the client cuts larger batches itself; a raw request over a limit is refused whole
    for too_many in (
        {"metrics": [{"key": "over", "value": 1.0, "timestamp": 1, "step": i} for i in range(1001)]},
        {"params": [{"key": f"q{i}", "value": "v"} for i in range(101)]},
        {"tags": [{"key": f"u{i}", "value": "v"} for i in range(101)]},
        {"params": [{"key": "big", "value": "x" * 6001}]},
        {"metrics": [{"key": "bad", "value": "not a number", "timestamp": 1, "step": 0}]},
    ):
        refused = httpx.post(f"{stack.gateway_url}/api/2.0/mlflow/runs/log-batch", json={"run_id": rid, **too_many},
                             headers={"Authorization": f"Bearer {API_KEY}"})  # fmt: skip
        assert refused.status_code == 400, refused.text
        assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE" and refused.json()["message"]
    padded = b'{"run_id": "' + rid.encode() + b'", "tags": [' + b" " * (1024 * 1024) + b"]}"
    huge = httpx.post(f"{stack.gateway_url}/api/2.0/mlflow/runs/log-batch", content=padded,
                      headers={"Authorization": f"Bearer {API_KEY}"})  # fmt: skip
    assert huge.status_code == 400 and huge.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="Changing param values is not allowed"):
        tracking.log_param(rid, "p1", "another")
    tracking.log_param(rid, "p1", "1")  # the same value again: fine
    got = tracking.get_run(rid)
    assert len(got.data.params) == 100 and got.data.metrics == {"m": 999.0}  # nothing of the refused ones
    assert not any(t.startswith("u") for t in got.data.tags)
    assert len(tracking.get_metric_history(rid, "m")) == 1000
    with pytest.raises(MlflowException) as unknown:
        tracking.get_run(new_id())
    assert unknown.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_search_runs_filters_and_orders(tracking: Any) -> None:
    exp = tracking.create_experiment(f"mlflow-search-{secrets.token_hex(3)}")
    runs = {}
    for name, lr, loss, team in (("a", "0.1", 0.5, "cv"), ("b", "0.01", 0.2, "cv"), ("c", "0.01", 0.9, "nlp")):
        r = tracking.create_run(exp, run_name=name, tags={"team": team})
        tracking.log_param(r.info.run_id, "lr", lr)
        tracking.log_metric(r.info.run_id, "loss", loss, step=3)
        runs[name] = r.info.run_id
    tracking.set_terminated(runs["a"], "FINISHED")
    tracking.set_terminated(runs["c"], "FAILED")

    def names(filter_string: str = "", order_by: list[str] | None = None) -> list[str]:
        found = tracking.search_runs([exp], filter_string=filter_string, order_by=order_by or ["attributes.run_name"])
        return [r.info.run_name for r in found]

    assert names() == ["a", "b", "c"]
    assert names("metrics.loss < 0.6") == ["a", "b"]
    assert names("params.lr = '0.01'") == ["b", "c"]
    assert names("tags.team = 'cv' and metrics.loss > 0.3") == ["a"]
    assert names("attributes.status = 'FAILED'") == ["c"]
    assert names("attributes.status != 'RUNNING'") == ["a", "c"]
    assert names("attributes.run_name LIKE 'b%'") == ["b"]
    assert names(order_by=["metrics.loss DESC"]) == ["c", "a", "b"]
    assert names(order_by=["params.lr", "metrics.loss"]) == ["b", "c", "a"]
    page = tracking.search_runs([exp], max_results=2, order_by=["attributes.run_name"])
    assert [r.info.run_name for r in page] == ["a", "b"] and page.token
    rest = tracking.search_runs([exp], max_results=2, order_by=["attributes.run_name"], page_token=page.token)
    assert [r.info.run_name for r in rest] == ["c"]

    tracking.delete_run(runs["b"])
    assert names() == ["a", "c"]
    from mlflow.entities import ViewType

    deleted = tracking.search_runs([exp], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_name for r in deleted] == ["b"] and deleted[0].info.lifecycle_stage == "deleted"
    tracking.restore_run(runs["b"])
    assert names() == ["a", "b", "c"]
    tracking.update_run(runs["c"], name="c-renamed")
    assert tracking.get_run(runs["c"]).info.run_name == "c-renamed"


def test_a_tracklane_run_reads_back_through_mlflow(stack: Stack, tracking: Any) -> None:
    from tracklane_proto import events_pb2

    project = f"tl-native-{secrets.token_hex(3)}"
    exp = new_id()
    open_experiment(stack, exp, project=project, name="native")
    params = events_pb2.Event(seq=2, params_set=events_pb2.ParamsSet(
        section="General", params=[events_pb2.Param(name="lr", value="0.3", type="float")]))  # fmt: skip
    ingest(stack).Append(batch(exp, scalar_event(1, [("loss", "train", i, 1.0 / (i + 1)) for i in range(5)]), params),
                         metadata=AUTH, timeout=30)  # fmt: skip
    with gateway(stack) as gw:
        wait_for("the run", lambda: gw.get(f"/api/v1/experiments/{exp}").json().get("metrics"), timeout=60)
        wait_for("its points", lambda: total_points(gw, exp, "loss", "train") == 5, timeout=60)
    run = tracking.get_run(exp)
    assert run.info.run_name == "native" and run.info.status == "RUNNING"
    assert run.data.metrics == {"loss/train": pytest.approx(0.2)} and run.data.params == {"lr": "0.3"}
    assert tracking.get_experiment_by_name(project).experiment_id == run.info.experiment_id
    assert [m.step for m in tracking.get_metric_history(exp, "loss/train")] == [0, 1, 2, 3, 4]


def test_keys_are_required_and_checked(stack: Stack) -> None:
    import httpx

    body = {"experiment_ids": ["0"]}
    for headers in ({}, {"Authorization": "Bearer tl_not_a_key"}, {"Authorization": "Basic bm9wZTpub3Bl"}):
        r = httpx.post(f"{stack.gateway_url}/api/2.0/mlflow/runs/search", json=body, headers=headers)
        assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED", r.text
    import base64

    basic = base64.b64encode(f"anyone:{API_KEY}".encode()).decode()
    ok = httpx.post(f"{stack.gateway_url}/ajax-api/2.0/mlflow/runs/search", json=body,
                    headers={"Authorization": f"Basic {basic}"})  # fmt: skip
    assert ok.status_code == 200, ok.text
    # a viewer reads but writes nothing
    with gateway(stack) as gw:
        viewer = gw.post("/api/v1/keys", json={"name": "mlflow viewer", "role": "viewer"}).json()["key"]
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    read = httpx.get(f"{stack.gateway_url}/api/2.0/mlflow/experiments/get-by-name",
                     params={"experiment_name": "Default"}, headers=as_viewer)  # fmt: skip
    assert read.status_code == 200, read.text
    for path, payload in (("runs/create", {"experiment_id": "0"}), ("experiments/create", {"name": "nope"})):
        refused = httpx.post(f"{stack.gateway_url}/api/2.0/mlflow/{path}", json=payload, headers=as_viewer)
        assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED", refused.text


def test_log_artifact_list_and_download(stack: Stack, tracking: Any, tmp_path: Any) -> None:
    mlflow.set_experiment(f"mlflow-artifacts-{secrets.token_hex(3)}")
    (tmp_path / "report.txt").write_text("accuracy 0.93\n")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "loss.csv").write_text("step,loss\n0,1.0\n1,0.5\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "report.txt"))
        mlflow.log_artifacts(str(tmp_path / "plots"), artifact_path="plots")
        mlflow.log_dict({"layers": [64, 128]}, "config/model.json")
    rid = run.info.run_id
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    top = {(f.path, f.is_dir) for f in tracking.list_artifacts(rid)}
    assert top == {("report.txt", False), ("plots", True), ("config", True)}
    assert [(f.path, f.file_size) for f in tracking.list_artifacts(rid, "plots")] == [("plots/loss.csv", 22)]
    out = tmp_path / "out"
    out.mkdir()
    local = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="plots/loss.csv", dst_path=str(out))
    assert Path(local).read_text() == "step,loss\n0,1.0\n1,0.5\n"
    whole = Path(mlflow.artifacts.download_artifacts(run_id=rid, dst_path=str(tmp_path / "all")))
    assert (whole / "report.txt").read_text() == "accuracy 0.93\n"
    assert '"layers"' in (whole / "config" / "model.json").read_text()
    # the same files are the run's artifacts in Tracklane
    with gateway(stack) as gw:
        names = {a["name"] for a in gw.get(f"/api/v1/experiments/{rid}/artifacts").json()["artifacts"]}
        assert names == {"report.txt", "plots/loss.csv", "config/model.json"}


# MLflow's own notices about its type hints and scikit-learn's renamed arguments are not ours
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")
def test_sklearn_autolog_and_a_logged_model_round_trip(stack: Stack, tracking: Any, tmp_path: Any) -> None:
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlflow.set_experiment(f"mlflow-models-{secrets.token_hex(3)}")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    mlflow.sklearn.autolog(log_models=True, log_datasets=False, silent=True)
    try:
        with mlflow.start_run(run_name="autolog") as run:
            model = LogisticRegression(C=0.5, max_iter=200).fit(x, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    got = tracking.get_run(run.info.run_id)
    assert got.data.params["C"] == "0.5" and got.data.params["max_iter"] == "200"
    assert got.data.metrics["training_accuracy_score"] > 0.9
    autologged = tracking.search_logged_models(experiment_ids=[run.info.experiment_id],
                                               filter_string=f"source_run_id = '{run.info.run_id}'")  # fmt: skip
    assert len(autologged) == 1 and str(autologged[0].status).endswith("READY")

    with mlflow.start_run(run_name="explicit") as run2:
        info = mlflow.sklearn.log_model(model, name="classifier", params={"note": "round trip"})
    assert info.model_id.startswith("m-") and run2.info.run_id in info.model_id
    logged = tracking.get_logged_model(info.model_id)
    assert (logged.name, str(logged.status)) == (
        "classifier",
        "LoggedModelStatus.READY",
    ) or logged.status.name == "READY"
    assert logged.source_run_id == run2.info.run_id and logged.params == {"note": "round trip"}
    loaded = mlflow.sklearn.load_model(f"models:/{info.model_id}")
    assert (loaded.predict(x) == model.predict(x)).all()
    found = tracking.search_logged_models(experiment_ids=[run2.info.experiment_id])
    assert info.model_id in [m.model_id for m in found]
    # the model's files are the run's artifacts in Tracklane; its record is not an MLflow tag
    with gateway(stack) as gw:
        names = {a["name"] for a in gw.get(f"/api/v1/experiments/{run2.info.run_id}/artifacts").json()["artifacts"]}
        assert f"models/{info.model_id}/MLmodel" in names
    assert not any(k.startswith("mlflow.logged_model.") for k in tracking.get_run(run2.info.run_id).data.tags)
