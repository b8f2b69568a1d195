"""``/api/v1/projects`` and ``/api/v1/export``: projects with their counts and settings, and the
runs as a dataset. HTTP only: each handler calls a use case."""

from __future__ import annotations

from typing import Any

from starlette.responses import StreamingResponse

from gateway import schemas as s
from gateway.api import Call, Media, Reply, Routes
from gateway.usecases import dataset_export, project_settings
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
