"""The web UI: the built single-page app (``gateway/ui``, ``make ui``) served at ``/``.

Content-hashed files under ``/assets/`` are cached for a year; every other page path answers
``index.html`` (the app routes in the browser), never cached, with a Content-Security-Policy
that allows nothing from another origin. Paths of the API, the widget and the metrics never fall
back to the page: an unknown one is a JSON 404 as before.
"""

from __future__ import annotations

from pathlib import Path

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from gateway.errors import ApiError

NOT_PAGES = ("api/", "widget/", "metrics", "healthz", "readyz")


def page_headers(object_origins: tuple[str, ...] = ()) -> dict[str, str]:
    """The pages' headers. The Content-Security-Policy lets scripts, styles and connections come
    from this origin only, except reads from the object store's signed links (``object_origins``:
    the audio of a debug sample, fetched to draw its waveform). Debug samples' images, audio,
    video and HTML come from those links too; HTML shows only in sandboxed frames. Styles may be
    inline (plotly.js, loaded by the Plots tab, styles its elements so); scripts never are."""
    connect = " ".join(["'self'", *object_origins])
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob: http: https:; "
        f"media-src 'self' blob: http: https:; frame-src 'self' http: https:; connect-src {connect}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    return {
        "Content-Security-Policy": csp,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


class PagePathConvertor(Convertor[str]):
    """``{path:page}``: any path but the API's, the widget's and the metrics' — those never match
    the app, so a wrong method on an API path still answers 405 with its Allow."""

    regex = "(?!(?:" + "|".join(p.rstrip("/") for p in NOT_PAGES) + ")(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("page", PagePathConvertor())


def route(dist: Path, object_origins: tuple[str, ...] = ()) -> Route:
    """A GET-only catch-all (other methods on API paths still answer 405 with their Allow)."""
    root = dist.resolve()
    headers = page_headers(object_origins)

    async def page(request: Request) -> Response:
        path: str = request.path_params["path"]
        index = root / "index.html"
        if not index.is_file():
            raise ApiError(503, "ui_not_built", "the web UI is not built: run `make ui` (make up does it)")
        if path.startswith("assets/"):
            asset = (root / path).resolve()
            if not asset.is_relative_to(root / "assets") or not asset.is_file():
                raise ApiError(404, "not_found", f"no such file: /{path}", "path")
            return FileResponse(asset, headers={"Cache-Control": "public, max-age=31536000, immutable"})
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=headers)

    return Route("/{path:page}", page, methods=["GET"], name="ui")
