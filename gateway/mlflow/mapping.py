"""How MLflow's tracking entities map onto Tracklane's, both ways.

* An MLflow experiment is a Tracklane project; its id is derived from the project's path (``0``
  is the project ``Default``), so it needs no table; a renamed one keeps its id (the project
  records it), and a project whose path's id a renamed one kept gets the next free one. A deleted
  experiment is an archived project whose runs are archived.
* A run is an experiment (the same 32-hex id).
* A metric key ``a/b`` is metric ``a``, variant ``b``; a key without ``/`` is metric and variant
  both the key — so ``metrics.loss`` means the same in both filter languages.
* Params are the hyperparameter section ``General`` (other sections read as ``Section/name``).
* Tags are user properties, except MLflow's system tags, which are Tracklane fields.
* Statuses: RUNNING / FINISHED / FAILED / KILLED ↔ running / completed / failed / stopped.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence
from typing import Any

from tracklane_proto import metadata_pb2

from services.common.contract import STATUS_NAMES

DEFAULT_EXPERIMENT = ("0", "Default")
GENERAL = "General"
TO_MLFLOW_STATUS = {"running": "RUNNING", "completed": "FINISHED", "failed": "FAILED", "stopped": "KILLED",
                    "unspecified": "RUNNING"}  # fmt: skip
FROM_MLFLOW_STATUS = {"RUNNING": 1, "SCHEDULED": 1, "FINISHED": 2, "FAILED": 3, "KILLED": 4}
# MLflow's system tags that are Tracklane fields (set through them, read back from them)
RUN_NAME, USER, SOURCE_NAME, GIT_COMMIT, NOTE = (
    "mlflow.runName", "mlflow.user", "mlflow.source.name", "mlflow.source.git.commit", "mlflow.note.content",
)  # fmt: skip


def experiment_id(project: str) -> str:
    """The MLflow experiment id of a project: ``0`` for ``Default``, else a number from its path."""
    if project == DEFAULT_EXPERIMENT[1]:
        return DEFAULT_EXPERIMENT[0]
    return str(int(hashlib.md5(project.encode()).hexdigest()[:12], 16))  # noqa: S324 (an id)


def project_id(project: metadata_pb2.Project) -> str:
    """The MLflow id of a listed project: the one it kept through a rename or was given, else its
    path's (projects read through ``assign_ids`` all have one)."""
    return project.mlflow_id or experiment_id(project.path)


def free_id(path: str, taken: Collection[str]) -> str:
    """The id of a project at ``path`` that no other project holds: its path's, or — when a renamed
    experiment kept that one (a name a rename freed, used again) — the first free of a sequence
    derived from the path, so the same workspace always gives the same answer."""
    eid, n = experiment_id(path), 0
    while eid in taken:
        n += 1
        eid = experiment_id(f"{path}\n{n}")
    return eid


def assign_ids(projects: Sequence[metadata_pb2.Project]) -> None:
    """Fills in every listed project's MLflow id, unique in the workspace: the ids projects keep
    (through a rename, or given when they were made) first, then each other one its ``free_id``,
    oldest first."""
    taken = {p.mlflow_id for p in projects if p.mlflow_id}
    for p in sorted((p for p in projects if not p.mlflow_id), key=lambda p: (p.created_at, p.path)):
        p.mlflow_id = free_id(p.path, taken)
        taken.add(p.mlflow_id)


def split_key(key: str) -> tuple[str, str]:
    """A metric key as (metric, variant)."""
    metric, slash, variant = key.partition("/")
    return (metric, variant) if slash and metric and variant else (key, key)


def join_key(metric: str, variant: str) -> str:
    return metric if metric == variant else f"{metric}/{variant}"


def json_number(value: float) -> float | str:
    """MLflow's JSON for NaN and the infinities."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def ms(seconds: float) -> int | None:
    return round(seconds * 1000) if seconds else None


def experiment_json(project: metadata_pb2.Project) -> dict[str, Any]:
    eid = project_id(project)
    tags = [{"key": NOTE, "value": project.description}] if project.description else []
    return {
        "experiment_id": eid,
        "name": project.path,
        "artifact_location": f"mlflow-artifacts:/{eid}",
        "lifecycle_stage": "deleted" if project.archived else "active",
        "last_update_time": ms(project.last_update),
        "creation_time": ms(project.created_at),
        "tags": tags,
    }


def run_info(e: metadata_pb2.Experiment, eid: str) -> dict[str, Any]:
    """``eid``: the MLflow id of the run's project."""
    info: dict[str, Any] = {
        "run_id": e.id,
        "run_uuid": e.id,
        "run_name": e.name,
        "experiment_id": eid,
        "user_id": e.user,
        "status": TO_MLFLOW_STATUS.get(STATUS_NAMES.get(e.status, "unspecified"), "RUNNING"),
        "start_time": ms(e.started_at or e.created_at),
        "artifact_uri": f"mlflow-artifacts:/{eid}/{e.id}/artifacts",
        "lifecycle_stage": "deleted" if e.archived or e.deleted else "active",
    }
    if e.ended_at:
        info["end_time"] = ms(e.ended_at)
    return info


def run_json(e: metadata_pb2.Experiment, details: metadata_pb2.ExperimentDetails | None, eid: str) -> dict[str, Any]:
    metrics = [
        {"key": join_key(m.metric, m.variant), "value": json_number(m.last), "timestamp": ms(e.updated_at) or 0,
         "step": m.last_iteration}
        for m in e.metrics
        if not m.metric.startswith(":monitor:")
    ]  # fmt: skip
    params: list[dict[str, str]] = []
    tags = [{"key": RUN_NAME, "value": e.name}]
    if e.user:
        tags.append({"key": USER, "value": e.user})
    if e.description:
        tags.append({"key": NOTE, "value": e.description})
    if details is not None:
        for section in details.hyperparameters:
            for p in section.params:
                params.append({"key": p.name if section.section == GENERAL else f"{section.section}/{p.name}",
                               "value": p.value})  # fmt: skip
        # user properties, but the records of the run's logged models (gateway.mlflow.models)
        tags += [{"key": k, "value": v} for k, v in sorted(details.properties.items())
                 if not k.startswith("mlflow.logged_model.")]  # fmt: skip
        ex = details.execution
        if ex.entry_point:
            tags.append({"key": SOURCE_NAME, "value": ex.entry_point})
        if ex.commit:
            tags.append({"key": GIT_COMMIT, "value": ex.commit})
    return {
        "info": run_info(e, eid),
        "data": {"metrics": metrics, "params": params, "tags": tags},
        "inputs": {"dataset_inputs": []},
    }
