"""MLflow's names and filters in Tracklane's terms: experiment ids from project paths, metric
keys to metric/variant, and search_runs filters and orderings in the table language."""

from __future__ import annotations

import pytest

from gateway.mlflow import mapping
from gateway.mlflow.search import SearchError, translate_filter, translate_order
from services.metadata.query import compile_filter, compile_order


def test_ids_and_keys() -> None:
    assert mapping.experiment_id("Default") == "0"
    ids = {mapping.experiment_id(p) for p in ("vision", "vision/resnet", "nlp")}
    assert len(ids) == 3 and all(i.isdigit() and int(i) < 2**48 for i in ids)
    assert mapping.experiment_id("vision") == mapping.experiment_id("vision")
    assert mapping.split_key("loss") == ("loss", "loss") and mapping.split_key("acc/val") == ("acc", "val")
    assert mapping.split_key("/odd") == ("/odd", "/odd") and mapping.split_key("a/b/c") == ("a", "b/c")
    assert mapping.join_key("loss", "loss") == "loss" and mapping.join_key("acc", "val") == "acc/val"


def test_a_name_a_rename_freed_gets_an_id_of_its_own() -> None:
    from tracklane_proto import metadata_pb2

    # "a" was renamed to "b" (which kept a's id), then a project "a" was made again by the SDK
    renamed = metadata_pb2.Project(path="b", mlflow_id=mapping.experiment_id("a"), created_at=1)
    again = metadata_pb2.Project(path="a", created_at=2)
    other = metadata_pb2.Project(path="c", created_at=3)
    listed = [again, renamed, other]
    mapping.assign_ids(listed)
    assert renamed.mlflow_id == mapping.experiment_id("a")
    assert again.mlflow_id not in ("", renamed.mlflow_id) and again.mlflow_id.isdigit()
    assert other.mlflow_id == mapping.experiment_id("c")  # untouched by the collision
    assert len({p.mlflow_id for p in listed}) == 3
    # the same listing gives the same ids again; free_id agrees with it
    relisted = [
        metadata_pb2.Project(path="a", created_at=2),
        metadata_pb2.Project(path="b", mlflow_id=renamed.mlflow_id),
    ]
    mapping.assign_ids(relisted)
    assert relisted[0].mlflow_id == again.mlflow_id == mapping.free_id("a", {renamed.mlflow_id})


@pytest.mark.parametrize(
    ("mlflow", "tracklane"),
    [
        ("metrics.loss < 0.5", "metrics.loss < 0.5"),
        ("metrics.`val loss` > 1 and params.lr = '0.01'", "metrics.`val loss` > 1 and params.lr = '0.01'"),
        ('metrics."val loss" >= 2', "metrics.`val loss` >= 2"),
        ("tags.team = 'cv'", "tags.team = 'cv'"),
        ("attributes.status = 'FINISHED'", "attributes.status = 'completed'"),
        ("attributes.status IN ('KILLED', 'FAILED')", "attributes.status IN ('stopped', 'failed')"),
        ("attributes.run_name LIKE 'b%' AND tags.x = 'FINISHED'", "attributes.name LIKE 'b%' AND tags.x = 'FINISHED'"),
        ("attributes.start_time > 1700000000000", "attributes.started > 1700000000.0"),
        ("attribute.user_id = 'ann' and run.run_id = 'x'", "attributes.user = 'ann' and attributes.id = 'x'"),
        ("", ""),
    ],
)
def test_filters(mlflow: str, tracklane: str) -> None:
    assert translate_filter(mlflow) == tracklane
    if tracklane:
        compile_filter(tracklane)  # the table language takes it


def test_orders_and_refusals() -> None:
    assert translate_order(["metrics.loss DESC", "attributes.start_time", "run_name ASC"]) == (
        "-metrics.loss,attributes.started,attributes.name"
    )
    assert translate_order([]) == "-attributes.started"
    compile_order(translate_order(["metrics.loss DESC", "params.lr"]))
    for bad in ("attributes.artifact_uri = 'x'", "datasets.name = 'x'", "attributes.status = 'DONE'"):
        with pytest.raises(SearchError):
            translate_filter(bad)


def test_logged_model_filters() -> None:
    from gateway.mlflow.api import MlflowError
    from gateway.mlflow.models import _conditions

    assert _conditions("") == {}
    assert _conditions("name = 'plots'") == {"name": "plots"}
    assert _conditions("source_run_id = 'abc' AND attributes.name = 'm'") == {"source_run_id": "abc", "name": "m"}
    with pytest.raises(MlflowError, match="Invalid filter"):
        _conditions("metrics.rmse < 1")
