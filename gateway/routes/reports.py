"""``/api/v1/reports``, ``/api/v1/notes`` and ``/shared/…``: reports (write, publish, archive,
share, export) and the notes of projects and experiments. HTTP only: each handler calls a use
case of :mod:`gateway.usecases.reports`."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from gateway import schemas as s
from gateway.answers import cid
from gateway.api import Call, Media, Reply, Routes
from gateway.usecases import report_export, report_images, reports

routes = Routes("reports")
REPORT = "/api/v1/reports/{report_id:reportid}"
EXP = "/api/v1/experiments/{experiment_id:expid}"
SHARE_PARAMETER = {
    "name": "share", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 512},
    "description": "a share link's token, instead of a key",
}  # fmt: skip
ANSWER: dict[str, Any] = {"ok": s.Report, "also": {202: s.Accepted}}


def answer(result: s.Report | s.Accepted | None) -> Any:
    return Reply(202, result) if isinstance(result, s.Accepted) else result


@routes.get(
    "/api/v1/reports",
    "Reports: project (and sub-projects), search in name and description, tags, status, the Archive, sort, pages",
    query=s.ReportQuery,
    ok=s.ReportPage,
    etag=True,
)
async def list_reports(call: Call[s.ReportQuery, None]) -> s.ReportPage:
    return await reports.list_reports(call.st, call.who, call.query)


@routes.post("/api/v1/reports", "Create a report (a draft)", body=s.ReportCreate, status=201, **ANSWER)
async def create_report(call: Call[s.Empty, s.ReportCreate]) -> Any:
    return answer(await reports.create_report(call.st, call.who, call.body, cid(call)))


@routes.get(REPORT, "One report with its markdown body (and, for writers, its share links)", ok=s.Report, etag=True)
async def get_report(call: Call[s.Empty, None]) -> s.Report:
    return await reports.get_report(call.st, call.who, call.path["report_id"])


@routes.patch(
    REPORT,
    "Rename, describe, rewrite, tag or move a draft; carries the version it was made on (409 when stale)",
    body=s.ReportEdit,
    **{**ANSWER, "also": {202: s.Accepted, 409: s.Error}},
)
async def edit_report(call: Call[s.Empty, s.ReportEdit]) -> Any:
    return answer(await reports.edit_report(call.st, call.who, call.path["report_id"], call.body, cid(call)))


def _lifecycle(action: str, summary: str) -> None:
    async def handler(call: Call[s.Empty, s.ReportCommand | None]) -> Any:
        result = await reports.lifecycle(call.st, call.who, call.path["report_id"], action, call.body, cid(call))
        return Response(status_code=204) if result is None else answer(result)

    handler.__name__ = f"{action}_report"
    if action == "delete":
        routes.post(f"{REPORT}/{action}", summary, body=s.ReportCommand, body_required=False, ok=None,
                    status=204, also={409: s.Error})(handler)  # fmt: skip
    else:
        routes.post(f"{REPORT}/{action}", summary, body=s.ReportCommand, body_required=False,
                    **{**ANSWER, "also": {202: s.Accepted, 409: s.Error}})(handler)  # fmt: skip


_lifecycle("publish", "Publish: the report is locked from then on")
_lifecycle("archive", "Move to the Archive")
_lifecycle("restore", "Restore from the Archive")
_lifecycle("delete", "Delete an archived report, permanently")


@routes.post(
    f"{REPORT}/share", "A read-only link that opens the report without an account", body=s.ShareCreate,
    body_required=False, ok=s.SharedLink, status=201,
)  # fmt: skip
async def share_report(call: Call[s.Empty, s.ShareCreate | None]) -> s.SharedLink:
    body = call.body or s.ShareCreate()
    return await reports.share(call.st, call.who, call.path["report_id"], body, str(call.request.base_url))


@routes.post(f"{REPORT}/share/revoke", "Revoke a share link: it stops working at once", body=s.ShareRef, **ANSWER)
async def revoke_share(call: Call[s.Empty, s.ShareRef]) -> Any:
    return answer(await reports.revoke_share(call.st, call.who, call.path["report_id"], call.body))


@routes.get(
    "/api/v1/shared/{token}",
    "The report a share link opens (no key: the link is the grant)",
    auth="none",
    ok=s.Report,
    path_params={"token": {"type": "string", "maxLength": 512}},
)
async def open_share(call: Call[s.Empty, None]) -> s.Report:
    return await reports.shared_report(call.st, call.path["token"])


@routes.get(
    f"{REPORT}/export",
    "Download: Markdown, PDF (charts drawn as on the page), or one HTML file whose charts work offline",
    query=s.ReportExportQuery,
    ok=[Media(media, f"format={fmt}") for fmt, media in report_export.MEDIA.items()],
)
async def export_report(call: Call[s.ReportExportQuery, None]) -> Response:
    out = await report_export.export(call.st, call.who, call.path["report_id"], call.query.format, call.request)
    return Response(
        out.body, media_type=out.media_type, headers={"Content-Disposition": f'attachment; filename="{out.filename}"'}
    )


NOTE_ANSWERS: dict[str, Any] = {"ok": s.Note, "also": {202: s.Accepted, 409: s.Error}}


@routes.get("/api/v1/notes", "A project's markdown notes", query=s.NoteQuery, ok=s.Note)
async def get_project_note(call: Call[s.NoteQuery, None]) -> s.Note:
    return await reports.get_note(call.st, call.who, project=call.query.project)


@routes.put(
    "/api/v1/notes", "Write a project's notes (409 when the version is stale)", body=s.ProjectNoteEdit, **NOTE_ANSWERS
)
async def set_project_note(call: Call[s.Empty, s.ProjectNoteEdit]) -> Any:
    body = call.body
    return answer(await reports.set_note(call.st, call.who, body.version, body.text, cid(call), project=body.project))  # type: ignore[arg-type]


@routes.get(f"{EXP}/notes", "An experiment's markdown notes", ok=s.Note)
async def get_experiment_note(call: Call[s.Empty, None]) -> s.Note:
    return await reports.get_note(call.st, call.who, experiment=call.path["experiment_id"])


@routes.put(
    f"{EXP}/notes", "Write an experiment's notes (409 when the version is stale)", body=s.NoteEdit, **NOTE_ANSWERS
)
async def set_experiment_note(call: Call[s.Empty, s.NoteEdit]) -> Any:
    body, exp = call.body, call.path["experiment_id"]
    return answer(await reports.set_note(call.st, call.who, body.version, body.text, cid(call), experiment=exp))  # type: ignore[arg-type]


@routes.post(
    f"{REPORT}/images",
    "Store an image for the report (the request body: PNG, JPEG, GIF or WebP, at most 10 MiB); its URL",
    body_media=tuple(report_images.KINDS),
    ok=s.ImageStored,
    status=201,
    also={409: s.Error, 413: s.Error, 415: s.Error},
)
async def upload_image(call: Call[s.Empty, None]) -> s.ImageStored:
    url, size, kind = await report_images.upload(call.st, call.who, call.path["report_id"], call.request)
    return s.ImageStored(url=url, size=size, content_type=kind)


@routes.get(
    f"{REPORT}/images/{{name}}",
    "An image of the report: a redirect to object storage (a key, a session, or ?share= its share link)",
    auth="custom",
    ok=None,
    status=302,
    path_params={"name": {"type": "string", "maxLength": 80}},
    extra_parameters=[SHARE_PARAMETER],
)
async def image(call: Call[s.Empty, None]) -> Response:
    url = await report_images.download_url(call.st, call.request, call.path["report_id"], call.path["name"])
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "private, max-age=60"})
