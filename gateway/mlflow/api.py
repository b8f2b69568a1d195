"""MLflow's tracking REST API on the gateway (``/api/2.0/mlflow/…`` and ``/ajax-api/2.0/mlflow/…``),
as the ``mlflow`` client calls it: existing ``mlflow.log_metric`` code logs to Tracklane with
``MLFLOW_TRACKING_URI=http://<gateway>``.

Writes go through ingestion like an SDK's (its validation, a server-assigned sequence, the same
dedup and summaries), carrying the caller's own key; renames and lifecycle changes are the
people's commands of the HTTP API. Each write answers once the read models have it, so the
client reads back what it wrote. Errors are MLflow's: ``{"error_code", "message"}`` with its
status codes. Keys: ``MLFLOW_TRACKING_TOKEN`` (bearer) or the password of
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` is a Tracklane API key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tracklane_proto import events_pb2, ingest_pb2, metadata_pb2, metrics_pb2

from gateway import clients, schemas
from gateway.errors import ApiError
from gateway.mlflow import mapping, search
from gateway.state import GatewayState, state
from gateway.usecases import experiment_commands, project_settings
from gateway.usecases.command_log import publish, require_writer, wait_applied, wait_caught_up
from services.common.auth import Principal, UnauthenticatedError, bearer
from services.common.contract import (
    EXPERIMENT_ID,
    MAX_NAME,
    WORKSPACE_LEVEL,
    ValidationError,
    check_project,
)

# MLflow's own limits (mlflow/utils/validation.py)
MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS, MAX_BATCH_TOTAL = 1000, 100, 100, 1000
MAX_REQUEST_BYTES = 1024 * 1024
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_RESULTS = 50_000
HISTORY_PAGE = 25_000
VIEW_TYPES = {"ACTIVE_ONLY": (False,), "DELETED_ONLY": (True,), "ALL": (False, True)}


class MlflowError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def missing(message: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", message, 404)


# -- the caller -----------------------------------------------------------------------------------
def _key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            password = ""
        if password:
            return password
    key = bearer(header)
    if not key:
        raise MlflowError(
            "UNAUTHENTICATED", "a Tracklane API key is needed: set MLFLOW_TRACKING_TOKEN (or the password of "
            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD) to it", 401,
        )  # fmt: skip
    return key


async def caller(request: Request) -> tuple[Principal, str]:
    key = _key(request)
    try:
        return await state(request).keys.resolve(key), key
    except UnauthenticatedError as exc:
        raise MlflowError("UNAUTHENTICATED", str(exc), 401) from None


async def _args(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        out: dict[str, Any] = {}
        for name, value in request.query_params.multi_items():
            if name in out:
                out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
            else:
                out[name] = value
        return out
    body = await request.body()
    if len(body) > MAX_REQUEST_BYTES:
        raise invalid(f"the request is {len(body)} bytes; the limit is {MAX_REQUEST_BYTES}")
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        raise MlflowError("MALFORMED_REQUEST", "the body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise MlflowError("MALFORMED_REQUEST", "the body is not a JSON object")
    return parsed


def _text(args: dict[str, Any], name: str, *, required: bool = True, default: str = "") -> str:
    value = args.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"Missing value for required parameter '{name}'.")
        return default
    if not isinstance(value, str):
        raise invalid(f"Invalid value {value!r} for parameter '{name}': a string")
    return value


def _int(args: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = args.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid value {value!r} for parameter '{name}': an integer") from None


def _run_id(args: dict[str, Any]) -> str:
    run_id = args.get("run_id") or args.get("run_uuid")
    if not isinstance(run_id, str) or not run_id:
        raise invalid("Missing value for required parameter 'run_id'.")
    if not EXPERIMENT_ID.match(run_id):
        raise missing(f"Run with id={run_id} not found")
    return run_id


# -- reads ----------------------------------------------------------------------------------------
async def projects(st: GatewayState, who: Principal) -> list[metadata_pb2.Project]:
    out, page = [], 0
    while True:
        resp = await st.metadata.ListProjects(
            metadata_pb2.ListProjectsRequest(workspace=who.workspace, page=page, page_size=500), timeout=10
        )
        out += list(resp.projects)
        if len(out) >= resp.total or not resp.projects:
            mapping.assign_ids(out)
            return out
        page += 1


async def experiment_ids(st: GatewayState, who: Principal) -> dict[str, str]:
    """Each project's MLflow experiment id, by path."""
    return {p.path: mapping.project_id(p) for p in await projects(st, who)}


async def id_of(st: GatewayState, who: Principal, path: str) -> str:
    """The MLflow experiment id of the project at ``path``."""
    return (await experiment_ids(st, who)).get(path) or mapping.experiment_id(path)


async def _project_of(st: GatewayState, who: Principal, experiment_id: str) -> metadata_pb2.Project:
    for p in await projects(st, who):
        if mapping.project_id(p) == experiment_id:
            return p
    if experiment_id == mapping.DEFAULT_EXPERIMENT[0]:
        return metadata_pb2.Project(path=mapping.DEFAULT_EXPERIMENT[1], created_at=time.time(), last_update=time.time())
    raise missing(f"No Experiment with id={experiment_id} exists")


def in_projects(paths: list[str]) -> str:
    """The table-language condition: in one of these projects."""
    quoted = ", ".join("'" + p.replace("\\", "\\\\").replace("'", "\\'") + "'" for p in paths)
    return f"attributes.project IN ({quoted})"


async def find_run(st: GatewayState, who: Principal, run_id: str) -> metadata_pb2.Experiment:
    try:
        return await clients.experiment(st, who, run_id)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise missing(f"Run with id={run_id} not found") from None
        raise


async def _run_json(st: GatewayState, who: Principal, run_id: str) -> dict[str, Any]:
    e = await find_run(st, who, run_id)
    return mapping.run_json(e, await clients.details(st, who, run_id), await id_of(st, who, e.project))


# -- writes through ingestion -------------------------------------------------------------------------
async def append(st: GatewayState, key: str, run_id: str, events: list[events_pb2.Event]) -> int:
    """Appends events to a run through ingestion (server-sequenced); the stream sequence."""
    try:
        answer = await st.ingest.Append(
            ingest_pb2.EventBatch(experiment_id=run_id, events=events, server_sequenced=True),
            metadata=(("authorization", f"Bearer {key}"),),
            timeout=30,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise invalid(exc.details() or "invalid") from None
        if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
            raise MlflowError("PERMISSION_DENIED", exc.details() or "", 403) from None
        raise
    return int(answer.stream_seq)


async def applied(st: GatewayState, stream_seq: int, *projections: str) -> None:
    await wait_applied(st.js, stream_seq, projections or ("metadata", "metrics"))


async def caught_up(st: GatewayState, *projections: str) -> None:
    """Read-your-writes on the read side: waits until the read models have applied everything the
    log held when the read began — every write acknowledged before it, from any gateway replica.
    (So ``log_batch`` answers once its points are durable in the log, without waiting for them to
    be queryable, and ``get_metric_history`` right after still sees them.)"""
    await wait_caught_up(st.js, projections or ("metadata", "metrics"))


def _scalars(points: list[tuple[str, float, float, int]]) -> events_pb2.Event:
    """(key, value, timestamp ms, step) points as one columnar scalar event."""
    series: dict[tuple[str, str], int] = {}
    index = []
    for key, *_ in points:
        index.append(series.setdefault(mapping.split_key(key), len(series)))
    batch = events_pb2.ScalarBatch(
        series=[events_pb2.SeriesKey(metric=m, variant=v) for m, v in series],
        series_index=np.asarray(index, dtype="<u4").tobytes(),
        iterations=np.asarray([p[3] for p in points], dtype="<i8").tobytes(),
        values=np.asarray([p[1] for p in points], dtype="<f8").tobytes(),
        timestamps=np.asarray([p[2] / 1000.0 for p in points], dtype="<f8").tobytes(),
    )
    return events_pb2.Event(client_time=time.time(), scalars=batch)


def _metric(m: Any, i: int) -> tuple[str, float, float, int]:
    if not isinstance(m, dict):
        raise invalid(f"metrics[{i}]: an object with key, value, timestamp and step")
    key = m.get("key")
    if not isinstance(key, str) or not key:
        raise invalid(f"Missing value for required parameter 'metrics[{i}].key'.")
    try:
        value = float(m["value"])  # MLflow sends "NaN" / "Infinity" as strings
        timestamp = float(m.get("timestamp") or time.time() * 1000)
        step = int(m.get("step") or 0)
    except (KeyError, TypeError, ValueError):
        raise invalid(f"metrics[{i}]: value, timestamp and step must be numbers") from None
    if step < 0:
        raise invalid(f"metrics[{i}].step: must be >= 0 (Tracklane iterations are not negative)")
    if not math.isfinite(timestamp):
        raise invalid(f"metrics[{i}].timestamp: must be finite")
    return key, value, timestamp, step


def _pairs(items: Any, what: str, limit: int, max_value: int) -> list[tuple[str, str]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise invalid(f"{what}: a list of {{key, value}}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise invalid(f"Missing value for required parameter '{what}[{i}].key'.")
        value = item.get("value", "")
        value = value if isinstance(value, str) else json.dumps(value) if value is not None else ""
        if len(item["key"]) > 250:
            raise invalid(f"{what}[{i}].key: at most 250 characters")
        if len(value) > max_value:
            raise invalid(f"{what}[{i}].value: at most {max_value} characters")
        out.append((item["key"], value))
    if len(out) > limit:
        raise invalid(f"A batch logging request can contain at most {limit} {what}. Got {len(out)} {what}.")
    return out


async def _log(
    st: GatewayState, who: Principal, key: str, run_id: str,
    metrics: list[tuple[str, float, float, int]], params: list[tuple[str, str]], tags: list[tuple[str, str]],
) -> None:  # fmt: skip
    """Logs a batch to a run: points, params (a logged param cannot change value), tags."""
    require_writer(who)
    if params or any(k in (mapping.RUN_NAME, mapping.NOTE) for k, _ in tags):
        await caught_up(st, "metadata")  # the params and name logged just before count
    run = await find_run(st, who, run_id)
    if run.archived or run.deleted:
        raise invalid(f"The run {run_id} must be in the 'active' state. Current state is deleted.")
    events: list[events_pb2.Event] = []
    if metrics:
        events.append(_scalars(metrics))
    if params:
        details = await clients.details(st, who, run_id)
        logged = {p.name: p.value for s in details.hyperparameters if s.section == mapping.GENERAL for p in s.params}
        seen: dict[str, str] = {}
        for name, value in params:
            before = logged.get(name, seen.get(name))
            if before is not None and before != value:
                raise invalid(
                    f"Changing param values is not allowed. Param with key='{name}' was already logged with "
                    f"value='{before}' for run ID='{run_id}'. Attempted logging new value '{value}'."
                )
            seen[name] = value
        fresh = [(n, v) for n, v in seen.items() if logged.get(n) != v]
        if fresh:
            events.append(events_pb2.Event(client_time=time.time(), params_set=events_pb2.ParamsSet(
                section=mapping.GENERAL, params=[events_pb2.Param(name=n, value=v, type="str") for n, v in fresh],
            )))  # fmt: skip
    plain = {k: v for k, v in tags if not k.startswith("mlflow.")}
    if plain:
        events.append(events_pb2.Event(client_time=time.time(), properties_set=events_pb2.PropertiesSet(set=plain)))
    if events:
        await append(st, key, run_id, events)  # durable in the log; reads catch up (caught_up)
    await _system_tags(st, who, run, dict(tags))


async def _system_tags(st: GatewayState, who: Principal, run: metadata_pb2.Experiment, tags: dict[str, str]) -> None:
    """MLflow's system tags that are Tracklane fields: the name and the description."""
    edit = events_pb2.ExperimentEdited()
    if mapping.RUN_NAME in tags and tags[mapping.RUN_NAME] and tags[mapping.RUN_NAME] != run.name:
        edit.name = tags[mapping.RUN_NAME][:MAX_NAME]
    if mapping.NOTE in tags and tags[mapping.NOTE] != run.description:
        edit.description = tags[mapping.NOTE]
    if edit.HasField("name") or edit.HasField("description"):
        await experiment_commands.apply_edit(st, who, run.id, edit)


# -- experiments ------------------------------------------------------------------------------------
async def create_experiment(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    require_writer(who)
    name = _text(args, "name")
    try:
        check_project(name, "name")  # an experiment's name is a project path: "a//b" is refused
    except ValidationError as exc:
        raise invalid(str(exc)) from None
    existing = await projects(st, who)
    if name == mapping.DEFAULT_EXPERIMENT[1] or any(p.path == name for p in existing):
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.")
    eid = mapping.free_id(name, {p.mlflow_id for p in existing})
    note = next(
        (t.get("value", "") for t in args.get("tags") or [] if isinstance(t, dict) and t.get("key") == mapping.NOTE), ""
    )
    # (a name a rename left behind starts over: not deleted, and with an id of its own, kept, as a
    # renamed experiment may hold its path's)
    await _edit_project(st, who, name, description=note, archived=False, mlflow_id=eid, renamed_to="")
    return {"experiment_id": eid}


async def _edit_project(st: GatewayState, who: Principal, path: str, **fields: Any) -> None:
    """Publishes a project's settings (ProjectEdited fields) and waits until they are read back."""
    require_writer(who)
    edit = events_pb2.ProjectEdited(project=path, by_key=who.key_id, **fields)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"project.{uuid.uuid4().hex}", project_edited=edit)
    await applied(st, done.stream_seq, "metadata")


async def _runs_of(st: GatewayState, who: Principal, path: str, *, archived: bool) -> list[str]:
    """The ids of every run of a project, active or archived."""
    ids: list[str] = []
    while True:
        resp = await st.metadata.ListExperiments(
            metadata_pb2.ListExperimentsRequest(workspace=who.workspace, filter=in_projects([path]),
                                                page=len(ids) // 500, page_size=500, archived=archived),
            timeout=30,
        )  # fmt: skip
        ids += [e.id for e in resp.experiments]
        if len(resp.experiments) < 500:
            return ids


async def update_experiment(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    """A rename: every run moves to the project of the new name, which keeps the experiment's id
    and description."""
    require_writer(who)
    project = await _project_of(st, who, _text(args, "experiment_id"))
    name = _text(args, "new_name")
    try:
        check_project(name, "new_name")  # an experiment's name is a project path: "a//b" is refused
    except ValidationError as exc:
        raise invalid(str(exc)) from None
    if name == project.path:
        return {}
    if project.path == mapping.DEFAULT_EXPERIMENT[1]:
        raise invalid("the Default experiment cannot be renamed")
    if name == mapping.DEFAULT_EXPERIMENT[1] or any(p.path == name for p in await projects(st, who)):
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.")
    await _edit_project(st, who, name, description=project.description, archived=project.archived,
                        mlflow_id=mapping.project_id(project), renamed_to="")  # fmt: skip
    for archived in (False, True):
        for run_id in await _runs_of(st, who, project.path, archived=archived):
            await experiment_commands.move(st, who, run_id, name, uuid.uuid4().hex)
    await _edit_project(st, who, project.path, renamed_to=name, mlflow_id="", description="")
    return {}


async def delete_experiment(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    """Deleted: the project is archived and so is every run in it (as MLflow deletes them)."""
    require_writer(who)
    project = await _project_of(st, who, _text(args, "experiment_id"))
    if project.path == mapping.DEFAULT_EXPERIMENT[1]:
        raise invalid("Cannot delete the default experiment '0'. This is an internally reserved experiment.")
    for run_id in await _runs_of(st, who, project.path, archived=False):
        await experiment_commands.lifecycle(st, who, run_id, "archive", uuid.uuid4().hex)
    await _edit_project(st, who, project.path, archived=True)
    return {}


async def restore_experiment(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    """Active again, with every run of it that is archived."""
    require_writer(who)
    project = await _project_of(st, who, _text(args, "experiment_id"))
    await _edit_project(st, who, project.path, archived=False)
    for run_id in await _runs_of(st, who, project.path, archived=True):
        await experiment_commands.lifecycle(st, who, run_id, "restore", uuid.uuid4().hex)
    return {}


async def get_experiment(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    project = await _project_of(st, who, _text(args, "experiment_id"))
    return {"experiment": mapping.experiment_json(project)}


async def get_experiment_by_name(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    name = _text(args, "experiment_name")
    for p in await projects(st, who):
        if p.path == name:
            return {"experiment": mapping.experiment_json(p)}
    if name == mapping.DEFAULT_EXPERIMENT[1]:
        return {"experiment": mapping.experiment_json(await _project_of(st, who, "0"))}
    raise missing(f"Could not find experiment with name '{name}'")


async def search_experiments(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    view = str(args.get("view_type") or "ACTIVE_ONLY")
    if view not in VIEW_TYPES:
        raise invalid(f"Invalid value {view!r} for parameter 'view_type': one of {', '.join(VIEW_TYPES)}")
    found = [p for p in await projects(st, who) if p.archived in VIEW_TYPES[view]]
    text = str(args.get("filter") or "")
    if text:
        name = _name_filter(text)
        found = [p for p in found if name(p.path)]
    order = args.get("order_by") or []
    order = [order] if isinstance(order, str) else order
    found.sort(key=lambda p: int(mapping.project_id(p)))  # MLflow's order: newest first, then by id
    found.sort(key=lambda p: p.created_at, reverse=True)
    for clause in reversed(order):
        field, _, direction = str(clause).partition(" ")
        keyf = {"name": lambda p: p.path, "attribute.name": lambda p: p.path,
                "creation_time": lambda p: p.created_at, "attribute.creation_time": lambda p: p.created_at,
                "last_update_time": lambda p: p.last_update, "attribute.last_update_time": lambda p: p.last_update,
                "experiment_id": lambda p: int(mapping.project_id(p)),
                "attribute.experiment_id": lambda p: int(mapping.project_id(p))}.get(field)  # fmt: skip
        if keyf is None:
            raise invalid(f"Invalid order_by entity: {clause}")
        found.sort(key=keyf, reverse=direction.strip().upper() == "DESC")
    start = _int(args, "page_token", 0) or 0
    size = min(_int(args, "max_results", 1000) or 1000, MAX_RESULTS)
    page = found[start : start + size]
    out: dict[str, Any] = {"experiments": [mapping.experiment_json(p) for p in page]}
    if start + size < len(found):
        out["next_page_token"] = str(start + size)
    return out


def _name_filter(text: str) -> Callable[[str], bool]:
    """MLflow's experiment filters Tracklane can answer: ``name = 'x'``, ``name LIKE 'a%'``."""

    m = re.fullmatch(r"\s*(?:attribute\.|attributes\.)?name\s*(=|!=|LIKE|ILIKE)\s*'((?:[^'\\]|\\.)*)'\s*", text, re.I)
    if not m:
        raise invalid(f"Invalid filter {text!r}: Tracklane answers name = '…' and name LIKE '…'")
    op, value = m.group(1).upper(), m.group(2)
    if op in ("=", "!="):
        return (lambda p: p == value) if op == "=" else (lambda p: p != value)
    pattern = re.compile("^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value) + "$",
                         re.I if op == "ILIKE" else 0)  # fmt: skip
    return lambda p: bool(pattern.match(p))


async def set_experiment_tag(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    project = await _project_of(st, who, _text(args, "experiment_id"))
    tag, value = _text(args, "key"), str(args.get("value") or "")
    if tag != mapping.NOTE:
        raise invalid(f"Tracklane keeps one experiment tag, {mapping.NOTE} (the project's description); not {tag!r}")
    require_writer(who)
    await project_settings.edit_project(st, who, project.path, schemas.ProjectEdit(description=value), uuid.uuid4().hex)
    return {}


# -- runs -------------------------------------------------------------------------------------------
async def create_run(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    require_writer(who)
    experiment = str(args.get("experiment_id") or mapping.DEFAULT_EXPERIMENT[0])
    project = await _project_of(st, who, experiment)
    tags = dict(_pairs(args.get("tags"), "tags", MAX_BATCH_TAGS, MAX_TAG_VALUE))
    name = str(args.get("run_name") or tags.get(mapping.RUN_NAME) or f"run-{uuid.uuid4().hex[:8]}")[:MAX_NAME]
    start = _int(args, "start_time") or int(time.time() * 1000)
    run_id = uuid.uuid4().hex
    try:
        await st.ingest.OpenExperiment(
            ingest_pb2.OpenExperimentRequest(experiment_id=run_id, project=project.path, name=name,
                                             user=str(args.get("user_id") or tags.get(mapping.USER) or ""),
                                             started_at=start / 1000.0),
            metadata=(("authorization", f"Bearer {key}"),), timeout=30,
        )  # fmt: skip
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise invalid(exc.details() or "invalid") from None
        raise
    events = []
    execution = events_pb2.ExecutionReported(entry_point=tags.get(mapping.SOURCE_NAME, ""),
                                             commit=tags.get(mapping.GIT_COMMIT, ""))  # fmt: skip
    if execution.entry_point or execution.commit:
        events.append(events_pb2.Event(client_time=time.time(), execution_reported=execution))
    plain = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
    if plain:
        events.append(events_pb2.Event(client_time=time.time(), properties_set=events_pb2.PropertiesSet(set=plain)))
    if events:
        await applied(st, await append(st, key, run_id, events), "metadata")
    else:
        await _wait_run(st, who, run_id)
    run = await find_run(st, who, run_id)
    if tags.get(mapping.NOTE):
        await _system_tags(st, who, run, {mapping.NOTE: tags[mapping.NOTE]})
    return {"run": await _run_json(st, who, run_id)}


async def _wait_run(st: GatewayState, who: Principal, run_id: str) -> None:
    """Until the metadata service has the run just opened (it answers in milliseconds)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            await clients.experiment(st, who, run_id)
            return
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
        await asyncio.sleep(0.02)


async def get_run(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"run": await _run_json(st, who, _run_id(args))}


async def update_run(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    require_writer(who)
    run_id = _run_id(args)
    run = await find_run(st, who, run_id)
    status = args.get("status")
    if status is not None:
        if status not in mapping.FROM_MLFLOW_STATUS:
            raise invalid(f"Invalid value {status!r} for parameter 'status'")
        end = _int(args, "end_time")
        at = end / 1000.0 if end else time.time()
        changed = events_pb2.StatusChanged(status=mapping.FROM_MLFLOW_STATUS[status], at=at)  # type: ignore[arg-type]
        await applied(st, await append(st, key, run_id, [events_pb2.Event(client_time=at, status_changed=changed)]),
                       "metadata")  # fmt: skip
    if args.get("run_name"):
        await _system_tags(st, who, run, {mapping.RUN_NAME: str(args["run_name"])})
    run = await find_run(st, who, run_id)
    return {"run_info": mapping.run_info(run, await id_of(st, who, run.project))}


async def delete_run(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(args)
    run = await find_run(st, who, run_id)
    if not run.archived:
        await experiment_commands.lifecycle(st, who, run_id, "archive", uuid.uuid4().hex)
    return {}


async def restore_run(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(args)
    run = await find_run(st, who, run_id)
    if run.archived:
        await experiment_commands.lifecycle(st, who, run_id, "restore", uuid.uuid4().hex)
    return {}


async def log_metric(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(args)
    point = _metric({"key": args.get("key"), "value": args.get("value"), "timestamp": args.get("timestamp"),
                     "step": args.get("step")}, 0)  # fmt: skip
    await _log(st, who, key, run_id, [point], [], [])
    return {}


async def log_batch(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(args)
    raw = args.get("metrics") or []
    if not isinstance(raw, list):
        raise invalid("metrics: a list")
    if len(raw) > MAX_BATCH_METRICS:
        raise invalid(
            f"A batch logging request can contain at most {MAX_BATCH_METRICS} metrics. Got {len(raw)} metrics."
        )
    metrics = [_metric(m, i) for i, m in enumerate(raw)]
    params = _pairs(args.get("params"), "params", MAX_BATCH_PARAMS, MAX_PARAM_VALUE)
    tags = _pairs(args.get("tags"), "tags", MAX_BATCH_TAGS, MAX_TAG_VALUE)
    if len(metrics) + len(params) + len(tags) > MAX_BATCH_TOTAL:
        raise invalid(f"A batch logging request can contain at most {MAX_BATCH_TOTAL} metrics, params and tags.")
    await _log(st, who, key, run_id, metrics, params, tags)
    return {}


async def log_param(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    params = _pairs([{"key": args.get("key"), "value": args.get("value")}], "params", 1, MAX_PARAM_VALUE)
    await _log(st, who, key, _run_id(args), [], params, [])
    return {}


async def set_tag(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    tags = _pairs([{"key": args.get("key"), "value": args.get("value")}], "tags", 1, MAX_TAG_VALUE)
    await _log(st, who, key, _run_id(args), [], [], tags)
    return {}


async def delete_tag(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    require_writer(who)
    run_id, tag = _run_id(args), _text(args, "key")
    details = await clients.details(st, who, run_id)
    if tag not in details.properties:
        raise missing(f"No tag with name: {tag} in run with id {run_id}")
    event = events_pb2.Event(client_time=time.time(), properties_set=events_pb2.PropertiesSet(remove=[tag]))
    await applied(st, await append(st, key, run_id, [event]), "metadata")
    return {}


async def log_inputs(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    """Datasets a run used, kept as user properties ``dataset.<name>`` = their digest and source."""
    datasets = args.get("datasets") or []
    tags = []
    for i, d in enumerate(datasets if isinstance(datasets, list) else []):
        ds = d.get("dataset") if isinstance(d, dict) else None
        if not isinstance(ds, dict) or not ds.get("name"):
            raise invalid(f"datasets[{i}].dataset.name: required")
        tags.append((f"dataset.{ds['name']}", json.dumps({k: ds.get(k) for k in ("digest", "source_type", "source")})))
    await _log(st, who, key, _run_id(args), [], [], tags)
    return {}


async def search_runs(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    ids = args.get("experiment_ids") or []
    ids = [ids] if isinstance(ids, str) else ids
    eids = await experiment_ids(st, who)
    paths = {eid: path for path, eid in eids.items()}
    wanted = [paths[i] for i in ids if i in paths]
    if not wanted:
        return {"runs": []}
    try:
        condition = search.translate_filter(str(args.get("filter") or ""))
        order = args.get("order_by") or []
        order_by = search.translate_order([order] if isinstance(order, str) else list(order))
    except search.SearchError as exc:
        raise invalid(str(exc)) from None
    where = in_projects(wanted) + (f" AND ({condition})" if condition.strip() else "")
    view = str(args.get("run_view_type") or "ACTIVE_ONLY")
    size = min(_int(args, "max_results", 1000) or 1000, MAX_RESULTS)
    start = _int(args, "page_token", 0) or 0
    if start % size:
        raise invalid("page_token does not belong to this max_results")
    page_size = min(size, 500)
    runs: list[metadata_pb2.Experiment] = []
    for archived in {"ACTIVE_ONLY": [False], "DELETED_ONLY": [True], "ALL": [False, True]}.get(view, [False]):
        page = start // page_size
        while len(runs) < size:
            try:
                resp = await st.metadata.ListExperiments(
                    metadata_pb2.ListExperimentsRequest(workspace=who.workspace, filter=where, order_by=order_by,
                                                        page=page, page_size=page_size, archived=archived),
                    timeout=30,
                )  # fmt: skip
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    raise invalid(exc.details() or "invalid filter") from None
                raise
            runs += list(resp.experiments)
            if len(resp.experiments) < page_size:
                break
            page += 1
    more = len(runs) > size
    runs = runs[:size]
    details = await asyncio.gather(*(clients.details(st, who, r.id) for r in runs))
    out: dict[str, Any] = {
        "runs": [mapping.run_json(r, d, eids.get(r.project) or mapping.experiment_id(r.project))
                 for r, d in zip(runs, details, strict=True)]
    }  # fmt: skip
    if more or len(runs) == size:
        out["next_page_token"] = str(start + size)
    return out


async def get_metric_history(st: GatewayState, who: Principal, key: str, args: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(args)
    await find_run(st, who, run_id)
    metric_key = _text(args, "metric_key")
    metric, variant = mapping.split_key(metric_key)
    size = min(_int(args, "max_results", HISTORY_PAGE) or HISTORY_PAGE, HISTORY_PAGE)
    after = args.get("page_token")
    points: list[dict[str, Any]] = []
    cursor = int(after) if after not in (None, "") else None
    more = True
    while more and len(points) < size:
        request = metrics_pb2.ReadPointsRequest(workspace=who.workspace, experiment_id=run_id, metric=metric,
                                                variant=variant, limit=min(10_000, size - len(points)))  # fmt: skip
        if cursor is not None:
            request.after_iteration = cursor
        page = await st.metrics.ReadPoints(request, timeout=30)
        for it, value, ts in zip(page.iterations, page.values, page.timestamps, strict=True):
            point = {"key": metric_key, "value": mapping.json_number(value), "timestamp": round(ts * 1000), "step": it}
            points.append(point)
        if page.iterations:
            cursor = page.iterations[-1]
        more = page.more and bool(page.iterations)
    out: dict[str, Any] = {"metrics": points}
    if more:
        out["next_page_token"] = str(cursor)
    return out


async def get_metric_history_bulk_interval(
    st: GatewayState, who: Principal, key: str, args: dict[str, Any]
) -> dict[str, Any]:
    """Up to ``max_results`` points per run of one metric between ``start_step`` and ``end_step``,
    evenly spaced over the steps (MLflow's UI draws runs side by side from it)."""
    ids = args.get("run_ids") or []
    ids = [ids] if isinstance(ids, str) else ids
    if not ids or len(ids) > 100:
        raise invalid("run_ids: 1 to 100 run ids")
    metric_key = _text(args, "metric_key")
    metric, variant = mapping.split_key(metric_key)
    size = min(_int(args, "max_results", 320) or 320, 1000)
    lo, hi = _int(args, "start_step"), _int(args, "end_step")
    out: list[dict[str, Any]] = []
    for run_id in ids:
        if not isinstance(run_id, str) or not EXPERIMENT_ID.match(run_id):
            raise missing(f"Run with id={run_id} not found")
        await find_run(st, who, run_id)
        query = metrics_pb2.ScalarQuery(workspace=who.workspace, experiment_id=run_id, metric=metric, variant=variant,
                                        samples=size)  # fmt: skip
        if lo is not None:
            query.x_min = lo
        if hi is not None:
            query.x_max = hi
        answer = await st.metrics.QueryScalars(query, timeout=30)
        points = [
            {"key": metric_key, "value": mapping.json_number(v), "timestamp": 0, "step": int(x), "run_id": run_id}
            for x, v, n in zip(answer.x, answer.last, answer.count, strict=True)
            if n
        ]
        out += points[:size]
    return {"metrics": out}


# -- routing ----------------------------------------------------------------------------------------
Handler = Callable[[GatewayState, Principal, str, dict[str, Any]], Awaitable[dict[str, Any]]]
ENDPOINTS: dict[tuple[str, str], Handler] = {
    ("POST", "experiments/create"): create_experiment,
    ("GET", "experiments/get"): get_experiment,
    ("GET", "experiments/get-by-name"): get_experiment_by_name,
    ("POST", "experiments/search"): search_experiments,
    ("GET", "experiments/search"): search_experiments,
    ("POST", "experiments/set-experiment-tag"): set_experiment_tag,
    ("POST", "experiments/update"): update_experiment,
    ("POST", "experiments/delete"): delete_experiment,
    ("POST", "experiments/restore"): restore_experiment,
    ("POST", "runs/create"): create_run,
    ("GET", "runs/get"): get_run,
    ("POST", "runs/update"): update_run,
    ("POST", "runs/delete"): delete_run,
    ("POST", "runs/restore"): restore_run,
    ("POST", "runs/search"): search_runs,
    ("POST", "runs/log-metric"): log_metric,
    ("POST", "runs/log-batch"): log_batch,
    ("POST", "runs/log-parameter"): log_param,
    ("POST", "runs/set-tag"): set_tag,
    ("POST", "runs/delete-tag"): delete_tag,
    ("POST", "runs/log-inputs"): log_inputs,
    ("GET", "metrics/get-history"): get_metric_history,
    ("GET", "metrics/get-history-bulk-interval"): get_metric_history_bulk_interval,
}


async def respond(work: Callable[[], Awaitable[Response]]) -> Response:
    """``work``'s answer, or the error as MLflow writes it."""
    try:
        return await work()
    except MlflowError as exc:
        return JSONResponse({"error_code": exc.code, "message": exc.message}, status_code=exc.status)
    except ApiError as exc:
        codes = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST",
                 409: "INVALID_STATE", 503: "TEMPORARILY_UNAVAILABLE"}  # fmt: skip
        code = codes.get(exc.status, "INVALID_PARAMETER_VALUE")
        return JSONResponse({"error_code": code, "message": exc.message}, status_code=exc.status)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return JSONResponse({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": exc.details()}, 404)
        why = f"a service is unavailable ({exc.code().name}); retry"
        return JSONResponse({"error_code": "TEMPORARILY_UNAVAILABLE", "message": why}, status_code=503)


def _endpoint(method: str, path: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        async def work() -> Response:
            who, key = await caller(request)
            args = {**await _args(request), **request.path_params}
            if method == "GET" or path.endswith("/search"):
                await caught_up(state(request))
            return JSONResponse(await handler(state(request), who, key, args))

        return await respond(work)

    run.__name__ = f"mlflow_{method.lower()}_{path.replace('/', '_').replace('-', '_')}"
    return run


def routes(endpoints: dict[tuple[str, str], Handler]) -> list[Route]:
    out = []
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        for (method, path), handler in endpoints.items():
            out.append(Route(f"{prefix}/{path}", _endpoint(method, path, handler), methods=[method], name="mlflow"))
    return out
