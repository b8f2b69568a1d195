"""A report as a file to download: Markdown; PDF, printed from the report page in headless
Chromium with its charts drawn as on screen; and one self-contained HTML file whose charts stay
interactive offline (each chart's frame carries its data and the widget's script).

PDF and HTML both start from the same print page (``/reports/<id>?print=1``) that Chromium
opens with the caller's own credentials, so the export shows exactly what the caller may read,
rendered and sanitized by the web UI's own code.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import plotly
from starlette.requests import Request
from tracklane_proto import artifact_pb2

from gateway.errors import ApiError
from gateway.sessions import COOKIE
from gateway.state import GatewayState
from gateway.usecases import report_images, reports
from gateway.widget import data as widget_data
from gateway.widget.page import json_for_html
from gateway.widget.spec import parse
from services.common.auth import Principal

MEDIA = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}
PRINT_TIMEOUT_MS = 30_000  # for the page and its charts to draw
MAX_INLINE_IMAGE = 8 * 1024 * 1024  # larger images stay links in the HTML export
_PRINTING = asyncio.Semaphore(2)  # Chromiums at once on one gateway
_IFRAME = re.compile(r'<iframe\b([^>]*?)\bsrc="([^"]*)"([^>]*)>\s*</iframe>')
_STYLE = re.compile(r'\bstyle="([^"]*)"')
_IMAGE = re.compile(
    r'(<img\b[^>]*?\bsrc=")(/api/v1/reports/(r[0-9a-f]{24})/images/([0-9a-f]{64}\.[a-z]{3,4}))(?:\?[^"]*)?"'
)
_RETURN = re.compile(r'href="(/(?:experiments|compare|projects)[^"]*)"')
# Every chart frame has drawn (the widget marks its body) and every image has loaded.
_DRAWN = """() => [...document.querySelectorAll('figure.report-widget iframe')].every((f) => {
  const body = f.contentDocument && f.contentDocument.body;
  return body && body.dataset.state === 'drawn';
}) && [...document.images].every((i) => i.complete)"""


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
    body = r.body if isinstance(r.body, str) else ""
    base = st.settings.public_url or str(request.base_url).rstrip("/")
    if fmt == "md":
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r.updated_at))
        head = f"<!-- {r.name} · {r.project} · {r.status} · updated {when} · {base}/reports/{r.id} -->\n\n"
        return Exported((head + body).encode(), MEDIA["md"], filename(r.name, "md"))
    printed = await _print(st, request, report_id, pdf=fmt == "pdf")
    if fmt == "pdf":
        return Exported(printed, MEDIA["pdf"], filename(r.name, "pdf"))
    page = await _standalone(st, who, report_id, r.name, printed.decode(), base)
    return Exported(page.encode(), MEDIA["html"], filename(r.name, "html"))


async def _print(st: GatewayState, request: Request, report_id: str, *, pdf: bool) -> bytes:
    """The print page in headless Chromium, read as the caller: its PDF, or its header and
    rendered markdown (HTML)."""
    from playwright.async_api import Error as BrowserError
    from playwright.async_api import async_playwright

    base = st.settings.render_url or str(request.base_url).rstrip("/")
    authorization = request.headers.get("authorization")
    cookie = request.cookies.get(COOKIE)
    async with _PRINTING, async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(
                executable_path=st.settings.chromium, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
            )
        except BrowserError:
            raise ApiError(
                503, "unavailable",
                "PDF and HTML exports print the report in Chromium, which this gateway cannot start: install it "
                "(apt-get install chromium) or point TRACKLANE_CHROMIUM at it; Markdown export works without it",
                "format",
            ) from None  # fmt: skip
        try:
            # as wide as an A4 page's printable width, so charts are drawn at the size they print
            width = 700 if pdf else 1000
            context = await browser.new_context(viewport={"width": width, "height": 1000}, locale="en-US")
            if authorization:  # to the gateway only: never to object storage's signed links
                await context.route(
                    f"{base}/**",
                    lambda route: route.continue_(headers={**route.request.headers, "authorization": authorization}),
                )
            if cookie:
                await context.add_cookies([{"name": COOKIE, "value": cookie, "url": base}])
            page = await context.new_page()
            await page.goto(f"{base}/reports/{report_id}?print=1", wait_until="load", timeout=PRINT_TIMEOUT_MS)
            await page.wait_for_selector("body[data-print-ready='1']", timeout=PRINT_TIMEOUT_MS)
            with contextlib.suppress(BrowserError):  # a chart that cannot draw is printed as it stands
                await page.wait_for_function(_DRAWN, timeout=PRINT_TIMEOUT_MS)
            if pdf:
                margin = "12mm"
                return await page.pdf(
                    format="A4", print_background=True,
                    margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
                )  # fmt: skip
            return (await page.inner_html("main.print")).encode()
        except BrowserError as exc:
            raise ApiError(
                503, "unavailable", f"the report could not be printed ({exc.message.splitlines()[0]})", None
            ) from None
        finally:
            await browser.close()


def _assets(ui_dir: Path) -> tuple[str, str]:
    """The widget's standalone script and stylesheet (``make ui`` builds them)."""
    try:
        return (ui_dir / "export" / "widget.js").read_text(), (ui_dir / "export" / "widget.css").read_text()
    except FileNotFoundError:
        raise ApiError(503, "ui_not_built", "the web UI is not built: run `make ui` (make up does it)") from None


async def _inline(url: str, limit: int = MAX_INLINE_IMAGE) -> str | None:
    """A data: URI of what ``url`` serves, when it is small enough."""
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as client:
        got = await client.get(url)
    if got.status_code != 200 or len(got.content) > limit:
        return None
    kind = got.headers.get("content-type", "application/octet-stream").split(";")[0]
    return f"data:{kind};base64,{base64.b64encode(got.content).decode()}"


async def _chart(st: GatewayState, who: Principal, src: str, script: str, css: str) -> str:
    """One chart's frame as a whole page: its data, the widget's script (and plotly.js when it
    draws with it), and its sample images inlined."""
    spec = parse(parse_qsl(urlsplit(html.unescape(src)).query, keep_blank_values=True))
    body, _ = await widget_data.build(st, who, spec)
    body["offline"] = True
    for sample in body.get("samples", []):
        if sample.get("kind") == "image" and sample.get("url"):
            sample["url"] = await _inline(sample["url"]) or sample["url"]
    needs_plotly = spec.type not in ("scalar", "sample")
    plotly_js = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text() if needs_plotly else ""
    theme = "light" if spec.light else "dark"
    return (
        f'<!doctype html><html lang="en" data-theme="{theme}"><head><meta charset="utf-8"><style>{css}</style></head>'
        f'<body class="{theme}" data-state="loading"><div id="tl-root"></div>'
        f'<script type="application/json" id="tl-data">{json_for_html(body)}</script>'
        + (f"<script>{plotly_js}</script>" if plotly_js else "")
        + f"<script>{script}</script></body></html>"
    )


async def _standalone(st: GatewayState, who: Principal, report_id: str, name: str, printed: str, base: str) -> str:
    """The printed report as one file: charts in ``srcdoc`` frames, images as data: URIs,
    links back to Tracklane absolute."""
    script, css = _assets(st.settings.ui_dir)
    out, at = [], 0
    for m in _IFRAME.finditer(printed):
        style = _STYLE.search(m.group(1) + m.group(3))
        frame = await _chart(st, who, m.group(2), script, css)
        out += [printed[at : m.start()], f'<iframe title="Live chart" style="{style.group(1) if style else ""}" ',
                f'srcdoc="{html.escape(frame)}"></iframe>']  # fmt: skip
        at = m.end()
    page = "".join([*out, printed[at:]])
    for m in list(_IMAGE.finditer(page)):
        link = await st.artifacts.PresignDownload(
            artifact_pb2.PresignDownloadRequest(
                workspace=who.workspace, experiment_id=report_images.files_id(report_id),
                key=report_images.PREFIX + m.group(4),
            ),
            timeout=10,
        )  # fmt: skip
        inlined = await _inline(link.url)
        if inlined:
            page = page.replace(m.group(0), f'{m.group(1)}{inlined}"', 1)
    page = _RETURN.sub(lambda m: f'href="{base}{m.group(1)}"', page)
    return (
        f'<!doctype html><html lang="en" data-theme="light"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(name)}</title>'
        f'<style>{css}</style></head><body><main class="print">{page}</main></body></html>'
    )
