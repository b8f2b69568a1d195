"""A report as a file to download: its Markdown (with a title block naming where it came from)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from starlette.requests import Request

from gateway.state import GatewayState
from gateway.usecases import reports
from services.common.auth import Principal

MEDIA = {"md": "text/markdown; charset=utf-8"}


@dataclass(frozen=True)
class Exported:
    body: bytes
    media_type: str
    filename: str


def filename(name: str, ext: str) -> str:
    """A safe file name from a report's name (quotes, slashes and controls become ``_``)."""
    stem = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" ._") or "report"
    return f"{stem[:100]}.{ext}"


async def export(st: GatewayState, who: Principal, report_id: str, fmt: str, request: Request) -> Exported:
    r = await reports.get_report(st, who, report_id)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r.updated_at))
    link = f"{str(request.base_url).rstrip('/')}/reports/{r.id}"
    head = f"<!-- {r.name} · {r.project} · {r.status} · updated {when} · {link} -->\n\n"
    body = r.body if isinstance(r.body, str) else ""
    return Exported((head + body).encode(), MEDIA["md"], filename(r.name, "md"))
