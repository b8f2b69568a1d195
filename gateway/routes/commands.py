"""Experiment commands: rename and describe, tags, move, publish, archive, delete, restore,
clear. Each route parses the request and calls the command use case (``gateway.commands``); the
answer is the experiment as it now is (or 202 Accepted when the projection lags)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route
from tracklane_proto import events_pb2

from gateway import clients, commands
from gateway.errors import ApiError
from gateway.http import (
    accepted,
    checked,
    experiment_id_param,
    idempotency_key,
    json_object,
    only_fields,
    outcome_response,
    string_field,
    tags_field,
)
from gateway.respond import JSONResponse
from gateway.state import principal, state
from services.common.contract import MAX_EXPERIMENT_DESCRIPTION, check_name, check_project


async def _edit(
    request: Request,
    edit: events_pb2.ExperimentEdited | commands.EditFor,
    precondition: commands.Precondition | None = None,
) -> JSONResponse:
    who = await principal(request)
    outcome = await commands.apply_edit(
        state(request), who, experiment_id_param(request), edit, precondition, idempotency_key(request)
    )
    return outcome_response(outcome)


async def edit_experiment(request: Request) -> JSONResponse:
    """PATCH ``{"name": …, "description": …}``: either or both."""
    body = await json_object(request)
    only_fields(body, ("name", "description"))
    edit = events_pb2.ExperimentEdited()
    if (name := string_field(body, "name")) is not None:
        checked(check_name, "name", name)
        edit.name = name
    if (description := string_field(body, "description")) is not None:
        checked(check_name, "description", description, max_len=MAX_EXPERIMENT_DESCRIPTION, required=False)
        edit.description = description
    if not edit.HasField("name") and not edit.HasField("description"):
        raise ApiError(400, "invalid_argument", "nothing to change: send name and/or description", "body")
    return await _edit(request, edit, commands.read_only)


async def edit_tags(request: Request) -> JSONResponse:
    """POST ``{"add": [...], "remove": [...]}``."""
    body = await json_object(request)
    add, remove = tags_field(body, "add"), tags_field(body, "remove")
    if not add and not remove:
        raise ApiError(400, "invalid_argument", "nothing to change: send add and/or remove", "body")
    if overlap := set(add) & set(remove):
        raise ApiError(400, "invalid_argument", f"a tag cannot be both added and removed: {sorted(overlap)[0]}", "add")
    return await _edit(request, events_pb2.ExperimentEdited(add_tags=add, remove_tags=remove))


async def archive(request: Request) -> JSONResponse:
    return await _edit(request, events_pb2.ExperimentEdited(archived=True))


async def restore(request: Request) -> JSONResponse:
    """From the deleted ones back to the archive; from the archive back to the active ones."""
    return await _edit(
        request,
        lambda e: (
            events_pb2.ExperimentEdited(deleted=False) if e.deleted else events_pb2.ExperimentEdited(archived=False)
        ),
    )


async def move(request: Request) -> JSONResponse:
    """POST ``{"project": "a/b"}``: the project is created on the fly."""
    body = await json_object(request)
    project = string_field(body, "project")
    if project is None:
        raise ApiError(400, "invalid_argument", "project is required", "project")
    checked(check_project, project)
    return await _edit(request, events_pb2.ExperimentEdited(project=project))


async def publish_experiment(request: Request) -> JSONResponse:
    """Locks name and description (and later parameters and properties); cannot be undone."""
    return await _edit(request, events_pb2.ExperimentEdited(published=True))


async def delete(request: Request) -> JSONResponse:
    """Soft delete, of archived experiments only; ``restore`` brings it back."""
    return await _edit(request, events_pb2.ExperimentEdited(deleted=True), commands.archived_only)


async def clear(request: Request) -> JSONResponse:
    """Permanent removal of a deleted experiment: its metadata, its metrics and its objects."""
    experiment_id = experiment_id_param(request)
    who = await principal(request)
    commands.require_writer(who)
    st = state(request)
    current = await clients.experiment(st, who, experiment_id)
    if not current.deleted:
        raise ApiError(409, "conflict", "only deleted experiments can be cleared: delete it first")
    done = await commands.publish(
        st.js, who.workspace, experiment_id, f"{experiment_id}.cleared",
        experiment_cleared=events_pb2.ExperimentCleared(by_key=who.key_id),
    )  # fmt: skip
    # the answer says the data is gone: metadata, metrics and objects
    if not await commands.wait_applied(st.js, done.stream_seq, ("metadata", "metrics", "artifact")):
        return accepted(done.event_id)
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
