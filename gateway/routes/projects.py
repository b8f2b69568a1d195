"""``/api/v1/projects``: the workspace's projects with experiment counts and last update, and
their settings (public or private, description). Without a key, ``?workspace=`` lists that
workspace's public projects."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tracklane_proto import events_pb2, metadata_pb2

from gateway.commands import publish, require_admin, require_writer, wait_applied
from gateway.errors import ApiError
from gateway.http import accepted, checked, idempotency_key, json_object, only_fields, string_field
from gateway.params import choice_param, int_param
from gateway.respond import JSONResponse, etag_json
from gateway.state import principal, reader, state
from gateway.views import project_json
from services.common.contract import MAX_PROJECT_DESCRIPTION, WORKSPACE_LEVEL, check_name, check_project

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


async def edit_project(request: Request) -> JSONResponse:
    """PATCH ``{"public": true, "description": "…"}`` on ``/api/v1/projects/{path}`` (created on
    the fly). Making a project public (readable without a key, with every project nested in it)
    or private again takes an admin key; the description, any member's."""
    who = await principal(request)
    require_writer(who)
    path = request.path_params["project"]
    checked(check_project, path)
    body = await json_object(request)
    only_fields(body, ("public", "description"))
    edit = events_pb2.ProjectEdited(project=path, by_key=who.key_id)
    if "public" in body:
        if not isinstance(body["public"], bool):
            raise ApiError(400, "invalid_argument", "public must be true or false", "public")
        require_admin(who)
        edit.public = body["public"]
    if (description := string_field(body, "description")) is not None:
        checked(check_name, "description", description, max_len=MAX_PROJECT_DESCRIPTION, required=False)
        edit.description = description
    if not edit.HasField("public") and not edit.HasField("description"):
        raise ApiError(400, "invalid_argument", "nothing to change: send public and/or description", "body")
    st = state(request)
    done = await publish(
        st.js, who.workspace, WORKSPACE_LEVEL, f"project.{idempotency_key(request)}", project_edited=edit
    )
    if not await wait_applied(st.js, done.stream_seq):
        return accepted(done.event_id)
    resp = await st.metadata.ListProjects(
        metadata_pb2.ListProjectsRequest(workspace=who.workspace, search=path, page_size=500), timeout=10
    )
    found = next((p for p in resp.projects if p.path == path), None)
    if found is None:  # more than a page of projects hold this path: the change is applied anyway
        return accepted(done.event_id)
    return JSONResponse(project_json(found))


routes = [
    Route("/api/v1/projects", list_projects),
    Route("/api/v1/projects/{project:path}", edit_project, methods=["PATCH"]),
]
