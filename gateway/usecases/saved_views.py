"""Saved views of a project's experiments (Comet's saved views): the table's filter, columns,
sort, grouping and panels under a name, shared with the workspace, one of them the project's
default. Saving, deleting and choosing the default are events on the log, projected by the
metadata service like every other change."""

from __future__ import annotations

from tracklane_proto import events_pb2, metadata_pb2

from gateway import schemas as s
from gateway.errors import ApiError
from gateway.state import GatewayState
from gateway.usecases.command_log import Published, publish, require_writer, wait_applied
from gateway.usecases.experiment_queries import require_workspace
from services.common.auth import Principal
from services.common.contract import MAX_VIEWS, WORKSPACE_LEVEL


async def list_views(st: GatewayState, who: Principal, project: str) -> s.SavedViews:
    require_workspace(who)
    resp = await st.metadata.ListViews(
        metadata_pb2.ListViewsRequest(workspace=who.workspace, project=project), timeout=10
    )
    default = resp.default_view or None
    return s.SavedViews(
        project=project,
        views=[
            s.SavedView(name=v.name, state=v.state, user=v.user, updated_at=v.updated_at, default=v.name == default)
            for v in resp.views
        ],
        default_view=default,
    )


async def _applied(st: GatewayState, who: Principal, project: str, done: Published) -> s.SavedViews | s.Accepted:
    """The project's views once the metadata service applied the event, else ``202 Accepted``."""
    if not await wait_applied(st.js, done.stream_seq):
        return s.Accepted(status="accepted", event_id=done.event_id)
    return await list_views(st, who, project)


async def save_view(st: GatewayState, who: Principal, body: s.ViewSave, cid: str) -> s.SavedViews | s.Accepted:
    """Saves (or replaces) a view; answers the project's views once applied."""
    require_writer(who)
    current = await list_views(st, who, body.project)
    if len(current.views) >= MAX_VIEWS and all(v.name != body.name for v in current.views):
        raise ApiError(400, "invalid_argument", f"name: a project keeps at most {MAX_VIEWS} views; delete one", "name")
    done = await publish(
        st.js, who.workspace, WORKSPACE_LEVEL, f"view.{cid}",
        view_saved=events_pb2.ViewSaved(
            project=body.project, name=body.name, state=body.state, make_default=body.default, by_key=who.key_id,
            user=who.user,
        ),
    )  # fmt: skip
    return await _applied(st, who, body.project, done)


async def delete_view(st: GatewayState, who: Principal, body: s.ViewRef, cid: str) -> s.SavedViews | s.Accepted:
    """Deletes a view; when it was the default, the project has none."""
    await _require_view(st, who, body)
    deleted = events_pb2.ViewDeleted(project=body.project, name=body.name, by_key=who.key_id)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"view.{cid}", view_deleted=deleted)
    return await _applied(st, who, body.project, done)


async def set_default(st: GatewayState, who: Principal, body: s.ViewRef, cid: str) -> s.SavedViews | s.Accepted:
    """The view a plain visit to the project opens; an empty name: none."""
    if body.name:
        await _require_view(st, who, body)
    else:
        require_writer(who)
    chosen = events_pb2.ViewDefaultSet(project=body.project, name=body.name, by_key=who.key_id)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"view.{cid}", view_default_set=chosen)
    return await _applied(st, who, body.project, done)


async def _require_view(st: GatewayState, who: Principal, ref: s.ViewRef) -> None:
    """A writer's key, and the view exists (else 404 naming it)."""
    require_writer(who)
    current = await list_views(st, who, ref.project)
    if all(v.name != ref.name for v in current.views):
        raise ApiError(404, "not_found", f"no view {ref.name!r} in {ref.project}", "name")
