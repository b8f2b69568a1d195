"""The widget's HTML page: the web UI's ``widget.html`` (built by ``make ui`` with the app, so a
widget draws with the UI's own charts and theme) with the widget's data and theme put in; and
plotly.js from the plotly package, served by the gateway itself (the UI loads it for logged
plots): the page fetches nothing from any other origin.

The page holds no inline script: its data travels in a ``<script type="application/json">``
block (JSON with ``<``, ``>`` and ``&`` escaped, so no text can close the block), and the
Content-Security-Policy allows scripts from the gateway only. Framing follows the workspace's
allow-list (``frame-ancestors``)."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

import plotly

from gateway.errors import ApiError
from gateway.respond import dumps


@dataclass(frozen=True)
class Asset:
    name: str  # with a content hash: cached for good
    body: bytes
    gzipped: bytes
    etag: str


def _asset(stem: str, body: bytes) -> Asset:
    digest = hashlib.sha256(body).hexdigest()[:16]
    return Asset(f"{stem}-{digest}.js", body, gzip.compress(body, 6, mtime=0), f'"{digest}"')


@cache
def assets() -> dict[str, Asset]:
    plotly_js = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    found = [_asset("plotly", plotly_js)]
    return {a.name: a for a in found}


def plotly_name() -> str:
    return next(n for n in assets() if n.startswith("plotly-"))


def json_for_html(data: Any) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element. A chart of a run
    that logged NaN or ±Infinity carries them as strings, as the API does."""
    text = dumps(data).decode()
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        if char in text:  # a search is cheaper than a copy of a page of numbers
            text = text.replace(char, escaped)
    return text


_templates: dict[Path, tuple[float, str]] = {}


def _template(ui_dir: Path) -> str:
    """The built widget.html (read again when a new build replaced it)."""
    path = ui_dir / "widget.html"
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise ApiError(503, "ui_not_built", "the web UI is not built: run `make ui` (make up does it)") from None
    cached = _templates.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, path.read_text())
        _templates[path] = cached
    return cached[1]


def render(data: dict[str, Any], *, light: bool, title: str, ui_dir: Path) -> str:
    theme = "light" if light else "dark"
    html = _template(ui_dir)
    html = html.replace('<html lang="en" data-theme="dark">', f'<html lang="en" data-theme="{theme}">', 1)
    html = html.replace("<title>Tracklane</title>", f"<title>{escape(title)}</title>", 1)
    html = html.replace("<body>", f'<body class="{theme}" data-state="loading">', 1)
    block = f'<script type="application/json" id="tl-data">{json_for_html(data)}</script>'
    return html.replace("</body>", block + "</body>", 1)


def security_headers(frame_origins: list[str]) -> dict[str, str]:
    ancestors = " ".join(frame_origins) if frame_origins else "'self'"
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src * data: blob:; media-src * data: blob:; connect-src 'self'; font-src 'self' data:; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the token in the URL never leaks to image hosts
        "Cache-Control": "no-store",
    }
