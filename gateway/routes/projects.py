"""``/api/v1/projects``: the workspace's projects with experiment counts and last update."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tracklane.pb import metadata_pb2

from gateway.errors import ApiError
from gateway.params import choice_param, int_param
from gateway.respond import etag_json
from gateway.state import principal, state

ORDERS = ("name", "-name", "last_update", "-last_update", "experiments", "-experiments")
MAX_SEARCH = 255


async def list_projects(request: Request) -> Response:
    who = await principal(request)
    search = request.query_params.get("search", "")
    if len(search) > MAX_SEARCH:
        raise ApiError(400, "invalid_argument", f"search: at most {MAX_SEARCH} characters", "search")
    order_by = choice_param(request, "order_by", "name", ORDERS)
    page = int_param(request, "page", 0, minimum=0, maximum=1_000_000)
    page_size = int_param(request, "page_size", 50, minimum=1, maximum=500)
    resp = await state(request).metadata.ListProjects(
        metadata_pb2.ListProjectsRequest(
            workspace=who.workspace, search=search, order_by=order_by, page=page, page_size=page_size
        ),
        timeout=10,
    )
    return etag_json(
        request,
        {
            "projects": [
                {
                    "path": p.path,
                    "name": p.path.rpartition("/")[2],
                    "parent": p.path.rpartition("/")[0] or None,
                    "experiments": p.experiments,
                    "archived_experiments": p.archived_experiments,
                    "created_at": p.created_at,
                    "last_update": p.last_update,
                }
                for p in resp.projects
            ],
            "total": resp.total,
            "page": page,
            "page_size": page_size,
        },
    )


routes = [Route("/api/v1/projects", list_projects)]
