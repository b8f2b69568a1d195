"""``/api/v1/projects`` and ``/api/v1/export``: projects with their counts and settings, and the
runs as a dataset. HTTP only: each handler calls a use case."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import StreamingResponse

from gateway import schemas as s
from gateway.api import Call, Media, Reply, Routes
from gateway.usecases import dataset_export, project_settings, saved_views
from gateway.usecases.command_log import command_id

routes = Routes("projects")


@routes.get(
    "/api/v1/projects",
    "Projects (nested ones with their parents) with experiment counts",
    query=s.ProjectQuery,
    ok=s.ProjectPage,
    auth="optional",
    etag=True,
)
async def list_projects(call: Call[s.ProjectQuery, None]) -> s.ProjectPage:
    return await project_settings.list_projects(call.st, call.who, call.query)


@routes.patch(
    "/api/v1/projects/{project:path}",
    "Public or private (admin), description; created on the fly",
    body=s.ProjectEdit,
    ok=s.Project,
    also={202: s.Accepted},
)
async def edit_project(call: Call[s.Empty, s.ProjectEdit]) -> Any:
    result = await project_settings.edit_project(
        call.st, call.who, call.path["project"], call.body, command_id(call.idempotency_key)
    )
    return Reply(202, result) if isinstance(result, s.Accepted) else result


@routes.get(
    "/api/v1/export",
    "Runs as a dataset, streamed: long (a row per point and tag) or wide (a row per run)",
    query=s.ExportQuery,
    auth="optional",
    ok=[Media(media, f"format={fmt}") for fmt, media in dataset_export.MEDIA.items()],
)
async def export(call: Call[s.ExportQuery, None]) -> StreamingResponse:
    out = await dataset_export.export(call.st, call.who, call.query)
    return StreamingResponse(
        out.body, media_type=out.media_type, headers={"Content-Disposition": f'attachment; filename="{out.filename}"'}
    )


@routes.get(
    "/api/v1/views",
    "A project's saved views (filter, columns, sort, groups, panels) and its default one",
    query=s.ViewsQuery,
    ok=s.SavedViews,
    etag=True,
)
async def list_views(call: Call[s.ViewsQuery, None]) -> s.SavedViews:
    return await saved_views.list_views(call.st, call.who, call.query.project)


@routes.post(
    "/api/v1/views",
    "Save a view under a name (replacing one of that name), shared with the workspace",
    body=s.ViewSave,
    ok=s.SavedViews,
    also={202: s.Accepted},
)
async def save_view(call: Call[s.Empty, s.ViewSave]) -> Any:
    result = await saved_views.save_view(call.st, call.who, call.body, command_id(call.idempotency_key))
    return Reply(202, result) if isinstance(result, s.Accepted) else result


def _view_command(action: str, summary: str, run: Callable[..., Awaitable[s.SavedViews | s.Accepted]]) -> None:
    async def handler(call: Call[s.Empty, s.ViewRef]) -> Any:
        result = await run(call.st, call.who, call.body, command_id(call.idempotency_key))
        return Reply(202, result) if isinstance(result, s.Accepted) else result

    handler.__name__ = f"{action}_view"
    routes.post(f"/api/v1/views/{action}", summary, body=s.ViewRef, ok=s.SavedViews, also={202: s.Accepted})(handler)


_view_command("delete", "Delete a saved view (if it was the default, the project has none)", saved_views.delete_view)
_view_command("default", "Choose the project's default view (an empty name: none)", saved_views.set_default)
