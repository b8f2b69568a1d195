"""The widget's HTML page and its two static scripts (plotly.js from the plotly package, and
``widget.js``), served by the gateway itself: the page fetches nothing from any other origin.

The page holds no inline script: its data travels in a ``<script type="application/json">``
block (JSON with ``<``, ``>`` and ``&`` escaped, so no text can close the block), and the
Content-Security-Policy allows scripts from the gateway only. Framing follows the workspace's
allow-list (``frame-ancestors``)."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

import plotly

from gateway.respond import finite_json

STATIC = Path(__file__).parent / "static"


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
    widget_js = (STATIC / "widget.js").read_bytes()
    found = [_asset("plotly", plotly_js), _asset("widget", widget_js)]
    return {a.name: a for a in found}


def asset_names() -> tuple[str, str]:
    names = sorted(assets())
    return next(n for n in names if n.startswith("plotly-")), next(n for n in names if n.startswith("widget-"))


def json_for_html(data: Any) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element. A chart of a run
    that logged NaN or ±Infinity carries them as strings, as the API does."""
    text = json.dumps(finite_json(data), allow_nan=False, separators=(",", ":"), default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


_STYLE = """
html, body { margin: 0; padding: 0; height: 100%; font-family: system-ui, sans-serif; }
body { background: #202226; color: #e8e9eb; }
body.light { background: #ffffff; color: #16181b; }
.tl-table { padding: 0.5em; overflow: auto; max-height: 100vh; box-sizing: border-box; }
.tl-table h2 { font-size: 13px; margin: 0 0 0.5em; }
.tl-table table { border-collapse: collapse; font-size: 13px; }
.tl-table th, .tl-table td { padding: 0.3em 0.8em; border-bottom: 1px solid #34373d; text-align: left; }
body.light .tl-table th, body.light .tl-table td { border-bottom-color: #d6d9de; }
.tl-chart { width: 100%; }
.tl-empty { padding: 1em; opacity: 0.7; }
.tl-sample { margin: 0.5em; display: inline-block; vertical-align: top; max-width: 100%; }
.tl-sample img, .tl-sample video { max-width: 100%; max-height: 70vh; display: block; }
.tl-sample figcaption { font-size: 12px; padding: 0.3em 0; display: flex; gap: 1em; align-items: center; }
.tl-sample a { color: inherit; }
"""


def render(data: dict[str, Any], *, light: bool, title: str) -> str:
    plotly_name, widget_name = asset_names()
    theme = "light" if light else "dark"
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body class="{theme}" data-state="loading">'
        '<div id="tl-root"></div>'
        "<noscript>This chart needs JavaScript.</noscript>"
        f'<script type="application/json" id="tl-data">{json_for_html(data)}</script>'
        f'<script src="static/{plotly_name}"></script>'
        f'<script src="static/{widget_name}"></script>'
        "</body></html>\n"
    )


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
