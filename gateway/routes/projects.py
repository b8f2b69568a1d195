"""``/api/v1/projects``: the workspace's projects with experiment counts and last update, and
their settings (public or private, description). Without a key, ``?workspace=`` lists that
workspace's public projects."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tracklane.pb import events_pb2, metadata_pb2

from gateway.commands import command_id, only_fields, publish, require_admin, require_writer, wait_applied
from gateway.errors import ApiError
from gateway.params import choice_param, int_param
from gateway.respond import JSONResponse, etag_json
from gateway.routes.commands import MAX_DESCRIPTION, _checked, _json_object, _string
from gateway.state import principal, reader, state
from services.common.events import WORKSPACE_LEVEL
from services.ingestion.domain import check_name, check_project

ORDERS = ("name", "-name", "last_update", "-last_update", "experiments", "-experiments")
MAX_SEARCH = 255


async def list_projects(request: Request) -> Response:
    who = await reader(request, needs_workspace=True)
    search = request.query_params.get("search", "")
    if len(search) > MAX_SEARCH:
        raise ApiError(400, "invalid_argument", f"search: at most {MAX_SEARCH} characters", "search")
    order_by = choice_param(request, "order_by", "name", ORDERS)
    page = int_param(request, "page", 0, minimum=0, maximum=1_000_000)
    page_size = int_param(request, "page_size", 50, minimum=1, maximum=500)
    resp = await state(request).metadata.ListProjects(
        metadata_pb2.ListProjectsRequest(
            workspace=who.workspace,
            search=search,
            order_by=order_by,
            page=page,
            page_size=page_size,
            public_only=who.anonymous,
        ),
        timeout=10,
    )
    return etag_json(
        request,
        {
            "projects": [project_json(p) for p in resp.projects],
            "total": resp.total,
            "page": page,
            "page_size": page_size,
        },
    )


def project_json(p: metadata_pb2.Project) -> dict[str, object]:
    return {
        "path": p.path,
        "name": p.path.rpartition("/")[2],
        "parent": p.path.rpartition("/")[0] or None,
        "description": p.description,
        "public": p.public,
        "experiments": p.experiments,
        "archived_experiments": p.archived_experiments,
        "created_at": p.created_at,
        "last_update": p.last_update,
    }


async def edit_project(request: Request) -> JSONResponse:
    """PATCH ``{"public": true, "description": "…"}`` on ``/api/v1/projects/{path}`` (created on
    the fly). Making a project public (readable without a key, with every project nested in it)
    or private again takes an admin key; the description, any member's."""
    who = await principal(request)
    require_writer(who)
    path = request.path_params["project"]
    _checked(check_project, path)
    body = await _json_object(request)
    only_fields(body, ("public", "description"))
    edit = events_pb2.ProjectEdited(project=path, by_key=who.key_id)
    if "public" in body:
        if not isinstance(body["public"], bool):
            raise ApiError(400, "invalid_argument", "public must be true or false", "public")
        require_admin(who)
        edit.public = body["public"]
    if (description := _string(body, "description")) is not None:
        _checked(check_name, "description", description, max_len=MAX_DESCRIPTION, required=False)
        edit.description = description
    if not edit.HasField("public") and not edit.HasField("description"):
        raise ApiError(400, "invalid_argument", "nothing to change: send public and/or description", "body")
    st = state(request)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"project.{command_id(request)}", project_edited=edit)
    if not await wait_applied(st.js, done.stream_seq):
        return JSONResponse({"status": "accepted", "event_id": done.event_id}, status_code=202)
    resp = await st.metadata.ListProjects(
        metadata_pb2.ListProjectsRequest(workspace=who.workspace, search=path, page_size=500), timeout=10
    )
    found = next((p for p in resp.projects if p.path == path), None)
    if found is None:  # more than a page of projects hold this path: the change is applied anyway
        return JSONResponse({"status": "accepted", "event_id": done.event_id}, status_code=202)
    return JSONResponse(project_json(found))


routes = [
    Route("/api/v1/projects", list_projects),
    Route("/api/v1/projects/{project:path}", edit_project, methods=["PATCH"]),
]
