"""``POST /api/v1/experiments/bulk``: one command for a selection of experiments (the table's
"select all → archive"). Each experiment is checked and published on its own; the answer says,
id by id, what happened, and waits once for the projection to have applied them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from starlette.requests import Request
from starlette.routing import Route
from tracklane_proto import events_pb2, metadata_pb2

from gateway.commands import archived_only, publish, require_writer, running_only, wait_applied
from gateway.errors import ApiError
from gateway.http import checked, idempotency_key, json_object, only_fields, string_field, tags_field
from gateway.respond import JSONResponse
from gateway.state import principal, state
from services.common.contract import EXPERIMENT_ID, check_project

MAX_BULK = 500
Plan = Callable[[metadata_pb2.Experiment], tuple[str, dict[str, Any]]]


def _edit(suffix: str, **fields: Any) -> Plan:
    return lambda e: (suffix, {"experiment_edited": events_pb2.ExperimentEdited(**fields)})


def _refuse_if(conflict: Callable[[metadata_pb2.Experiment], str | None], plan: Plan) -> Plan:
    def checked(e: metadata_pb2.Experiment) -> tuple[str, dict[str, Any]]:
        if reason := conflict(e):
            raise ApiError(409, "conflict", reason)
        return plan(e)

    return checked


def _plan(action: str, body: dict[str, Any], key_id: str) -> Plan:
    if action == "archive":
        return _edit("archive", archived=True)
    if action == "restore":
        return lambda e: (
            "restore",
            {"experiment_edited": events_pb2.ExperimentEdited(deleted=False) if e.deleted
             else events_pb2.ExperimentEdited(archived=False)},
        )  # fmt: skip
    if action == "delete":
        return _refuse_if(archived_only, _edit("delete", deleted=True))
    if action == "publish":
        return _edit("publish", published=True)
    if action == "tags":
        add, remove = tags_field(body, "add"), tags_field(body, "remove")
        if not add and not remove:
            raise ApiError(400, "invalid_argument", "nothing to change: send add and/or remove", "add")
        return _edit("tags", add_tags=add, remove_tags=remove)
    if action == "move":
        project = string_field(body, "project")
        if project is None:
            raise ApiError(400, "invalid_argument", "project is required", "project")
        checked(check_project, project)
        return _edit("move", project=project)
    if action == "stop":
        reason = string_field(body, "reason") or "stopped from the web"
        return _refuse_if(
            running_only,
            lambda e: ("stop", {"stop_requested": events_pb2.StopRequested(by_key=key_id, reason=reason[:1000])}),
        )
    raise ApiError(400, "invalid_argument", f"unknown action {action!r}", "action")


ACTIONS = ("archive", "restore", "delete", "publish", "tags", "move", "stop")


async def bulk(request: Request) -> JSONResponse:
    """``{"ids": [...], "action": "archive" | "restore" | "delete" | "publish" | "tags" | "move" |
    "stop", "add"/"remove" (tags), "project" (move), "reason" (stop)}``."""
    body = await json_object(request)
    only_fields(body, ("ids", "action", "add", "remove", "project", "reason"))
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "invalid_argument", "ids must be a non-empty list of experiment ids", "ids")
    if len(ids) > MAX_BULK:
        raise ApiError(400, "invalid_argument", f"at most {MAX_BULK} experiments per request", "ids")
    action = string_field(body, "action") or ""
    who = await principal(request)
    require_writer(who)
    plan = _plan(action, body, who.key_id)
    st = state(request)
    cid = idempotency_key(request)
    results: list[dict[str, Any]] = []
    last_seq = 0
    for experiment_id in dict.fromkeys(ids):  # each once, in the order given
        if not EXPERIMENT_ID.match(experiment_id):
            results.append({"id": experiment_id, "status": 404, "error": "not found"})
            continue
        try:
            current = await st.metadata.GetExperiment(
                metadata_pb2.GetExperimentRequest(workspace=who.workspace, experiment_id=experiment_id), timeout=10
            )
            suffix, payload = plan(current)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            results.append({"id": experiment_id, "status": 404, "error": "not found"})
            continue
        except ApiError as exc:
            results.append({"id": experiment_id, "status": exc.status, "error": exc.message})
            continue
        done = await publish(st.js, who.workspace, experiment_id, f"{experiment_id}.{suffix}.{cid}", **payload)
        last_seq = max(last_seq, done.stream_seq)
        results.append({"id": experiment_id, "status": 200, "event_id": done.event_id})
    applied = last_seq == 0 or await wait_applied(st.js, last_seq)
    return JSONResponse({"action": action, "applied": applied, "results": results}, status_code=200 if applied else 202)


routes = [Route("/api/v1/experiments/bulk", bulk, methods=["POST"])]
