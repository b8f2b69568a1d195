"""Projects: the workspace's projects with experiment counts, and their settings (public or
private, description). Without a key, a listing names the workspace whose public projects it
reads."""

from __future__ import annotations

from tracklane_proto import events_pb2, metadata_pb2

from gateway import schemas as s
from gateway import views
from gateway.errors import ApiError
from gateway.state import GatewayState
from gateway.usecases.command_log import publish, require_admin, require_writer, wait_applied
from gateway.usecases.experiment_queries import require_workspace
from services.common.auth import Principal
from services.common.contract import WORKSPACE_LEVEL, ValidationError, check_project


async def list_projects(st: GatewayState, who: Principal, q: s.ProjectQuery) -> s.ProjectPage:
    require_workspace(who)
    resp = await st.metadata.ListProjects(
        metadata_pb2.ListProjectsRequest(
            workspace=who.workspace, search=q.search, order_by=q.order_by, page=q.page, page_size=q.page_size,
            public_only=who.anonymous,
        ),
        timeout=10,
    )  # fmt: skip
    return s.ProjectPage(
        projects=[views.project(p) for p in resp.projects], total=resp.total, page=q.page, page_size=q.page_size
    )


async def edit_project(
    st: GatewayState, who: Principal, path: str, body: s.ProjectEdit, cid: str
) -> s.Project | s.Accepted:
    """Public (readable without a key, with every project nested in it) or private again takes
    an admin key; the description, any member's. The project is created on the fly."""
    require_writer(who)
    try:
        check_project(path)
    except ValidationError as exc:
        raise ApiError(400, "invalid_argument", str(exc), exc.field) from None
    edit = events_pb2.ProjectEdited(project=path, by_key=who.key_id)
    if isinstance(body.public, bool):
        require_admin(who)
        edit.public = body.public
    if isinstance(body.description, str):
        edit.description = body.description
    if not edit.HasField("public") and not edit.HasField("description"):
        raise ApiError(400, "invalid_argument", "nothing to change: send public and/or description", "body")
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"project.{cid}", project_edited=edit)
    accepted = s.Accepted(status="accepted", event_id=done.event_id)
    if not await wait_applied(st.js, done.stream_seq):
        return accepted
    resp = await st.metadata.ListProjects(
        metadata_pb2.ListProjectsRequest(workspace=who.workspace, search=path, page_size=500), timeout=10
    )
    found = next((p for p in resp.projects if p.path == path), None)
    return views.project(found) if found is not None else accepted  # past a page of matches: applied anyway
