"""Images pasted or dropped into a report: stored in object storage (through the artifact
service's presigned URLs, like every file), served to whoever may read the report — a key or a
session of its workspace, or one of its share links."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from tracklane_proto import artifact_pb2

from gateway import clients
from gateway.errors import ApiError
from gateway.state import GatewayState, principal
from gateway.usecases import reports
from gateway.usecases.command_log import require_writer
from services.common.auth import Principal
from services.common.contract import MAX_REPORT_IMAGE, name_hash

# what a browser shows inline and nothing that can carry script (no SVG)
KINDS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
PREFIX = "report-images/"


def files_id(report_id: str) -> str:
    """Where a report's files live in object storage: ``<workspace>/<this>/report-images/…``."""
    return name_hash(f"report:{report_id}")


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are (the Content-Type header is the client's word)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def _read(request: Request) -> bytes:
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > MAX_REPORT_IMAGE:
        raise ApiError(413, "too_large", f"an image is at most {MAX_REPORT_IMAGE // 2**20} MiB", "body")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_REPORT_IMAGE:
            raise ApiError(413, "too_large", f"an image is at most {MAX_REPORT_IMAGE // 2**20} MiB", "body")
        chunks.append(chunk)
    return b"".join(chunks)


async def upload(st: GatewayState, who: Principal, report_id: str, request: Request) -> tuple[str, int, str]:
    """Stores the image of the request's body; (its URL, size, type)."""
    require_writer(who)
    report = await reports.get_report(st, who, report_id)
    if report.status == "published":
        raise ApiError(409, "conflict", "the report is published: it can no longer be edited", "status")
    data = await _read(request)
    kind = sniff(data)
    if kind is None:
        raise ApiError(415, "unsupported_media_type", "send a PNG, JPEG, GIF or WebP image", "Content-Type")
    name = f"{hashlib.sha256(data).hexdigest()}.{KINDS[kind]}"
    await clients.store_object(st, who.workspace, files_id(report_id), PREFIX + name, data, len(data), kind)
    return f"/api/v1/reports/{report_id}/images/{name}", len(data), kind


async def download_url(st: GatewayState, request: Request, report_id: str, name: str) -> str:
    """A short-lived link to the image, for a reader of the report (key, session or share)."""
    share = request.query_params.get("share")
    if share:
        shared = await reports.open_share(st, share)
        if shared.report.report_id != report_id:
            raise ApiError(403, "forbidden", "this share link is for another report", "share")
        workspace = shared.workspace
    else:
        who = await principal(request)
        await reports.get_report(st, who, report_id)
        workspace = who.workspace
    stem, _, ext = name.partition(".")
    if len(stem) != 64 or ext not in KINDS.values() or any(ch not in "0123456789abcdef" for ch in stem):
        raise ApiError(404, "not_found", f"no image {name!r}", "name")
    link = await st.artifacts.PresignDownload(
        artifact_pb2.PresignDownloadRequest(workspace=workspace, experiment_id=files_id(report_id), key=PREFIX + name),
        timeout=10,
    )
    url: str = link.url
    return url
