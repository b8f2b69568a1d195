"""Experiment commands: rename and describe, tags, move, publish, archive, delete, restore,
clear. Each is one event on the log (see gateway/commands.py); the answer is the experiment as it
now is."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import Route
from tracklane.pb import events_pb2, metadata_pb2

from gateway.commands import (
    answer,
    command_id,
    only_fields,
    publish,
    require_writer,
    wait_applied,
)
from gateway.errors import ApiError
from gateway.respond import JSONResponse
from gateway.routes.experiments import _experiment_id, _get
from gateway.state import principal, state
from services.common.auth import Principal
from services.ingestion.domain import MAX_TAG, MAX_TAGS, ValidationError, check_name, check_project
from services.metadata.domain import STATUS_NAMES

MAX_DESCRIPTION = 10_000


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_argument", "the body must be a JSON object", "body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_argument", "the body must be a JSON object", "body")
    return body


def _checked(fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except ValidationError as exc:
        raise ApiError(400, "invalid_argument", str(exc), exc.field) from None


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "invalid_argument", f"{name} must be a string", name)
    return value


def _tags(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ApiError(400, "invalid_argument", f"{name} must be a list of strings", name)
    if len(value) > MAX_TAGS:
        raise ApiError(400, "invalid_argument", f"{name}: at most {MAX_TAGS} tags per request", name)
    for i, tag in enumerate(value):
        _checked(check_name, f"{name}[{i}]", tag, max_len=MAX_TAG)
    return value


Precondition = Callable[[metadata_pb2.Experiment], str | None]
EditFor = Callable[[metadata_pb2.Experiment], events_pb2.ExperimentEdited]
# The event's payload (e.g. ``{"params_set": …}``), made once the caller and the experiment are known.
Payload = Callable[[Principal, metadata_pb2.Experiment], dict[str, Any]]


def read_only(e: metadata_pb2.Experiment) -> str | None:
    return "the experiment is published (read-only)" if e.published else None


def archived_only(e: metadata_pb2.Experiment) -> str | None:
    return None if e.archived else "only archived experiments can be deleted: archive it first"


def running_only(e: metadata_pb2.Experiment) -> str | None:
    status = STATUS_NAMES.get(e.status, "unspecified")
    return None if status == "running" else f"the experiment is {status}; only running experiments can be stopped"


async def run_command(
    request: Request, kind: str, payload: Payload, precondition: Precondition | None = None
) -> JSONResponse:
    """Checks the caller and the experiment (404 unless it is the caller's; 409 when
    ``precondition`` names a conflict), publishes the command's event (id
    ``<experiment>.<kind>.<command id>``) and answers with the experiment as it now is."""
    experiment_id = _experiment_id(request)
    who = await principal(request)
    require_writer(who)
    current = await _get(request, experiment_id)
    if precondition is not None and (conflict := precondition(current)):
        raise ApiError(409, "conflict", conflict)
    event_id = f"{experiment_id}.{kind}.{command_id(request)}"
    done = await publish(state(request).js, who.workspace, experiment_id, event_id, **payload(who, current))
    return await answer(request, experiment_id, done.event_id, done.stream_seq)


async def _apply(
    request: Request,
    edit: events_pb2.ExperimentEdited | EditFor,
    precondition: Precondition | None = None,
) -> JSONResponse:
    """A person's edit (or the one ``edit`` makes from the current state), signed with the key."""

    def payload(who: Principal, current: metadata_pb2.Experiment) -> dict[str, Any]:
        event = edit(current) if callable(edit) else edit
        event.by_key = who.key_id
        return {"experiment_edited": event}

    return await run_command(request, "edit", payload, precondition)


async def edit_experiment(request: Request) -> JSONResponse:
    """PATCH ``{"name": …, "description": …}``: either or both."""
    body = await _json_object(request)
    only_fields(body, ("name", "description"))
    edit = events_pb2.ExperimentEdited()
    if (name := _string(body, "name")) is not None:
        _checked(check_name, "name", name)
        edit.name = name
    if (description := _string(body, "description")) is not None:
        _checked(check_name, "description", description, max_len=MAX_DESCRIPTION, required=False)
        edit.description = description
    if not edit.HasField("name") and not edit.HasField("description"):
        raise ApiError(400, "invalid_argument", "nothing to change: send name and/or description", "body")
    return await _apply(request, edit, read_only)


async def edit_tags(request: Request) -> JSONResponse:
    """POST ``{"add": [...], "remove": [...]}``."""
    body = await _json_object(request)
    add, remove = _tags(body, "add"), _tags(body, "remove")
    if not add and not remove:
        raise ApiError(400, "invalid_argument", "nothing to change: send add and/or remove", "body")
    if overlap := set(add) & set(remove):
        raise ApiError(400, "invalid_argument", f"a tag cannot be both added and removed: {sorted(overlap)[0]}", "add")
    return await _apply(request, events_pb2.ExperimentEdited(add_tags=add, remove_tags=remove))


async def archive(request: Request) -> JSONResponse:
    return await _apply(request, events_pb2.ExperimentEdited(archived=True))


async def restore(request: Request) -> JSONResponse:
    """From the deleted ones back to the archive; from the archive back to the active ones."""
    experiment_id = _experiment_id(request)
    current = await _get(request, experiment_id)
    edit = (
        events_pb2.ExperimentEdited(deleted=False) if current.deleted else events_pb2.ExperimentEdited(archived=False)
    )
    return await _apply(request, edit)


async def move(request: Request) -> JSONResponse:
    """POST ``{"project": "a/b"}``: the project is created on the fly."""
    body = await _json_object(request)
    project = _string(body, "project")
    if project is None:
        raise ApiError(400, "invalid_argument", "project is required", "project")
    _checked(check_project, project)
    return await _apply(request, events_pb2.ExperimentEdited(project=project))


async def publish_experiment(request: Request) -> JSONResponse:
    """Locks name and description (and later parameters and properties); cannot be undone."""
    return await _apply(request, events_pb2.ExperimentEdited(published=True))


async def delete(request: Request) -> JSONResponse:
    """Soft delete, of archived experiments only; ``restore`` brings it back."""
    return await _apply(
        request,
        events_pb2.ExperimentEdited(deleted=True),
        archived_only,
    )


async def clear(request: Request) -> JSONResponse:
    """Permanent removal of a deleted experiment: its metadata and its metrics."""
    experiment_id = _experiment_id(request)
    who = await principal(request)
    require_writer(who)
    current = await _get(request, experiment_id)
    if not current.deleted:
        raise ApiError(409, "conflict", "only deleted experiments can be cleared: delete it first")
    js = state(request).js
    done = await publish(
        js, who.workspace, experiment_id, f"{experiment_id}.cleared",
        experiment_cleared=events_pb2.ExperimentCleared(by_key=who.key_id),
    )  # fmt: skip
    if not await wait_applied(js, done.stream_seq):
        return JSONResponse({"status": "accepted", "event_id": done.event_id}, status_code=202)
    return JSONResponse({"id": experiment_id, "cleared": True})


routes = [
    Route("/api/v1/experiments/{experiment_id}", edit_experiment, methods=["PATCH"]),
    Route("/api/v1/experiments/{experiment_id}/tags", edit_tags, methods=["POST"]),
    Route("/api/v1/experiments/{experiment_id}/archive", archive, methods=["POST"]),
    Route("/api/v1/experiments/{experiment_id}/restore", restore, methods=["POST"]),
    Route("/api/v1/experiments/{experiment_id}/move", move, methods=["POST"]),
    Route("/api/v1/experiments/{experiment_id}/publish", publish_experiment, methods=["POST"]),
    Route("/api/v1/experiments/{experiment_id}/delete", delete, methods=["POST"]),
    Route("/api/v1/experiments/{experiment_id}/clear", clear, methods=["POST"]),
]
