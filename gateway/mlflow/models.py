"""MLflow 3's logged models (``mlflow.<flavor>.log_model`` / ``load_model``) on a Tracklane run.

A logged model belongs to the run that produced it: its id is ``m-<run id>-<8 hex>``, its files
are the run's artifacts under ``models/<model id>/`` (uploaded through the artifact proxy, shown
in the run's Artifacts tab), and its record — name, status, type, params, tags — is the run's
user property ``mlflow.logged_model.<model id>`` (JSON), written through ingestion like any.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from typing import Any

from tracklane_proto import events_pb2, metadata_pb2

from gateway import clients
from gateway.mlflow import mapping
from gateway.mlflow.api import (
    MlflowError,
    append,
    applied,
    experiment_ids,
    find_run,
    id_of,
    in_projects,
    invalid,
    missing,
)
from gateway.state import GatewayState
from gateway.usecases.command_log import require_writer
from services.common.auth import Principal
from services.common.contract import MAX_PROPERTY_VALUE

PROPERTY = "mlflow.logged_model."
MODEL_ID = re.compile(r"^m-([0-9a-f]{32})-[0-9a-f]{8}$")
STATUSES = {"LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"}
_CLAUSE = re.compile(r"^\s*(?:attributes\.)?(source_run_id|name)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$", re.IGNORECASE)


def _conditions(text: str) -> dict[str, str]:
    """``source_run_id = '…' AND name = '…'`` (either, both, or none) as a dict."""
    out: dict[str, str] = {}
    for clause in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        m = _CLAUSE.match(clause)
        if not m:
            raise invalid(
                f"Invalid filter {text!r}: Tracklane answers source_run_id = '…' and name = '…', joined by AND"
            )
        out[m.group(1).lower()] = m.group(2)
    return out


def _run_of(model_id: str) -> str:
    m = MODEL_ID.match(model_id)
    if not m:
        raise missing(f"Logged model with ID '{model_id}' not found.")
    return m.group(1)


def _kv(d: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(d.items())]


def _json(model_id: str, run: metadata_pb2.Experiment, record: dict[str, Any], eid: str) -> dict[str, Any]:
    """``eid``: the MLflow id of the run's project."""
    return {
        "info": {
            "model_id": model_id,
            "experiment_id": eid,
            "name": record["name"],
            "artifact_uri": f"mlflow-artifacts:/{eid}/{run.id}/artifacts/models/{model_id}",
            "creation_timestamp_ms": record["created"],
            "last_updated_timestamp_ms": record["updated"],
            "status": record["status"],
            "model_type": record.get("model_type", ""),
            "source_run_id": run.id,
            "tags": _kv(record.get("tags", {})),
        },
        "data": {"params": _kv(record.get("params", {})), "metrics": []},
    }


async def _record(st: GatewayState, who: Principal, model_id: str) -> tuple[metadata_pb2.Experiment, dict[str, Any]]:
    run_id = _run_of(model_id)
    run = await find_run(st, who, run_id)
    details = await clients.details(st, who, run_id)
    raw = details.properties.get(PROPERTY + model_id)
    if raw is None:
        raise missing(f"Logged model with ID '{model_id}' not found.")
    return run, json.loads(raw)


async def _save(st: GatewayState, key: str, run_id: str, model_id: str, record: dict[str, Any]) -> None:
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    if len(text) > MAX_PROPERTY_VALUE:
        raise invalid(f"the model's record is {len(text)} characters; Tracklane keeps at most {MAX_PROPERTY_VALUE}")
    event = events_pb2.Event(client_time=time.time(),
                             properties_set=events_pb2.PropertiesSet(set={PROPERTY + model_id: text}))  # fmt: skip
    await applied(st, await append(st, key, run_id, [event]), "metadata")


def _pairs(items: Any, what: str) -> dict[str, str]:
    out = {}
    for i, item in enumerate(items or []):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise invalid(f"Missing value for required parameter '{what}[{i}].key'.")
        out[item["key"]] = str(item.get("value", ""))
    return out


async def create(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    require_writer(who)
    run_id = args.get("source_run_id")
    if not isinstance(run_id, str) or not run_id:
        raise invalid("Tracklane keeps a logged model on the run that made it: log it inside a run (source_run_id)")
    run = await find_run(st, who, run_id)
    eid = await id_of(st, who, run.project)
    if str(args.get("experiment_id", "")) not in ("", eid):
        raise invalid(f"the run {run_id} is not in experiment {args.get('experiment_id')}")
    model_id = f"m-{run_id}-{secrets.token_hex(4)}"
    now = int(time.time() * 1000)
    record = {
        "name": str(args.get("name") or f"model-{model_id[-8:]}"), "status": "LOGGED_MODEL_PENDING",
        "model_type": str(args.get("model_type") or ""), "created": now, "updated": now,
        "params": _pairs(args.get("params"), "params"), "tags": _pairs(args.get("tags"), "tags"),
    }  # fmt: skip
    await _save(st, key, run_id, model_id, record)
    return {"model": _json(model_id, run, record, eid)}


async def get(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    model_id = str(args.get("model_id", ""))
    run, record = await _record(st, who, model_id)
    return {"model": _json(model_id, run, record, await id_of(st, who, run.project))}


async def _change(st: GatewayState, who: Principal, key: str, model_id: str, **change: Any) -> dict[str, Any]:
    require_writer(who)
    run, record = await _record(st, who, model_id)
    for name, value in change.items():
        record[name] = {**record.get(name, {}), **value} if isinstance(value, dict) else value
    record["updated"] = int(time.time() * 1000)
    await _save(st, key, run.id, model_id, record)
    return {"model": _json(model_id, run, record, await id_of(st, who, run.project))}


async def finalize(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    status = args.get("status")
    if status not in STATUSES:
        raise invalid(f"Invalid value {status!r} for parameter 'status': one of {', '.join(sorted(STATUSES))}")
    return await _change(st, who, key, str(args.get("model_id", "")), status=status)


async def log_params(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    await _change(st, who, key, str(args.get("model_id", "")), params=_pairs(args.get("params"), "params"))
    return {}


async def set_tags(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    await _change(st, who, key, str(args.get("model_id", "")), tags=_pairs(args.get("tags"), "tags"))
    return {}


async def delete_tag(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    require_writer(who)
    model_id, tag = str(args.get("model_id", "")), str(args.get("tag_key", ""))
    run, record = await _record(st, who, model_id)
    if tag not in record.get("tags", {}):
        raise missing(f"No tag with key {tag!r} on logged model {model_id}")
    del record["tags"][tag]
    record["updated"] = int(time.time() * 1000)
    await _save(st, key, run.id, model_id, record)
    return {}


async def log_outputs(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    """A run's output models: each is kept on the run that made it already; checked, then done."""
    require_writer(who)  # (it changes nothing, but it is a write: a viewer is refused as by the others)
    for i, m in enumerate(args.get("models") or []):
        if not isinstance(m, dict) or not isinstance(m.get("model_id"), str):
            raise invalid(f"models[{i}].model_id: required")
        await _record(st, who, m["model_id"])
    return {}


async def search(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    """Logged models of the experiments (newest first), of one run (``source_run_id = '…'``),
    and/or of one name (``name = '…'``: listing a run's artifacts asks whether a folder is one)."""
    wanted = _conditions(str(args.get("filter") or ""))
    ids = args.get("experiment_ids") or []
    ids = [ids] if isinstance(ids, str) else [str(i) for i in ids]
    runs: list[metadata_pb2.Experiment] = []
    if "source_run_id" in wanted:
        try:
            run = await find_run(st, who, wanted["source_run_id"])
            runs = [run] if not ids or await id_of(st, who, run.project) in ids else []
        except MlflowError:  # an unknown run has no models
            runs = []
    elif ids:
        paths = [path for path, eid in (await experiment_ids(st, who)).items() if eid in ids]
        if paths:
            resp = await st.metadata.ListExperiments(
                metadata_pb2.ListExperimentsRequest(workspace=who.workspace, filter=in_projects(paths), page_size=500),
                timeout=30,
            )  # fmt: skip
            runs = list(resp.experiments)
    details = await asyncio.gather(*(clients.details(st, who, r.id) for r in runs))
    eids = await experiment_ids(st, who)
    models = [
        _json(k[len(PROPERTY) :], r, json.loads(v), eids.get(r.project) or mapping.experiment_id(r.project))
        for r, d in zip(runs, details, strict=True)
        for k, v in d.properties.items()
        if k.startswith(PROPERTY)
    ]
    if "name" in wanted:
        models = [m for m in models if m["info"]["name"] == wanted["name"]]
    models.sort(key=lambda m: m["info"]["creation_timestamp_ms"], reverse=True)
    start = int(args.get("page_token") or 0)
    size = int(args.get("max_results") or 100)
    out: dict[str, Any] = {"models": models[start : start + size]}
    if start + size < len(models):
        out["next_page_token"] = str(start + size)
    return out


ENDPOINTS = {
    ("POST", "logged-models"): create,
    ("GET", "logged-models/{model_id}"): get,
    ("PATCH", "logged-models/{model_id}"): finalize,
    ("POST", "logged-models/{model_id}/params"): log_params,
    ("PATCH", "logged-models/{model_id}/tags"): set_tags,
    ("DELETE", "logged-models/{model_id}/tags/{tag_key}"): delete_tag,
    ("POST", "logged-models/search"): search,
    ("POST", "runs/outputs"): log_outputs,
}
