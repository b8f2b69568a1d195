"""``/widget/``: a live chart as a self-contained page (or ``format=json``), with ClearML's
embed parameters; and its static scripts. See :mod:`gateway.widget.spec` for the parameters,
which it parses itself (ids or a dynamic query, names or md5 ids, ``name`` and ``name[]``)."""

from __future__ import annotations

from typing import Any

import grpc
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from tracklane_proto import metadata_pb2

from gateway.api import Call, Media, Routes
from gateway.embeds import EMBED_ROLE, verify
from gateway.errors import ApiError
from gateway.respond import JSONResponse
from gateway.sessions import COOKIE
from gateway.state import principal, state
from gateway.usecases import reports
from gateway.widget import data, page
from gateway.widget.spec import WIDGET_PARAMETERS, WidgetSpec, parse
from services.common.auth import PUBLIC_ROLE, Principal


async def widget_reader(request: Request, spec: WidgetSpec) -> Principal:
    """Who reads: an embed token (only what it covers), a report's share link (only the report's
    widgets), else a key or a session, else anonymous (public projects only)."""
    st = state(request)
    if spec.token is not None and spec.token.startswith(reports.SHARE_PREFIX):  # a widget of a shared report
        return await reports.share_reader(st, spec.token, spec)
    if spec.token is not None:
        claims = verify(st.embed_secret, spec.token)
        grant = await st.grants.get(claims.workspace, claims.embed_id)
        if grant is None or grant.revoked:
            raise ApiError(401, "unauthenticated", "this embed token was revoked: ask for a new embed code", "token")
        if not spec.covered_by(grant.scope):
            raise ApiError(403, "forbidden", "this embed token covers other objects or another query", "token")
        return Principal(claims.workspace, EMBED_ROLE, f"embed:{claims.embed_id}")
    if "authorization" in request.headers or COOKIE in request.cookies:  # a key, or a signed-in browser
        return await principal(request)
    return Principal(spec.workspace, PUBLIC_ROLE, "")


async def frame_origins(request: Request, workspace: str) -> list[str]:
    """The workspace's allow-list of framing origins, else the gateway's default."""
    st = state(request)
    if workspace:
        try:
            ws = await st.metadata.GetWorkspace(metadata_pb2.GetWorkspaceRequest(workspace=workspace), timeout=5)
            if ws.embed_origins_set:
                return list(ws.embed_origins)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
    return list(st.settings.embed_origins)


routes = Routes("widget")


@routes.get(
    "/widget/",
    "A live chart page (or its data, format=json): ids or a dynamic query, by key, token or public",
    auth="custom",
    extra_parameters=WIDGET_PARAMETERS,
    ok=[Media("text/html; charset=utf-8", "the page"), Media("application/json", "format=json", {"type": "object"})],
)
async def widget(call: Call[Any, None]) -> Response:
    request = call.request
    spec = parse(list(request.query_params.multi_items()))
    who = await widget_reader(request, spec)
    body, workspace = await data.build(call.st, who, spec)
    if spec.fmt == "json":
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
    exps = body["experiments"]
    names = ", ".join(e["name"] for e in exps[:3]) + ("…" if len(exps) > 3 else "")
    html = page.render(
        body, light=spec.light, title=f"{names or 'Tracklane'} · {spec.type}", ui_dir=call.st.settings.ui_dir
    )
    return HTMLResponse(html, headers=page.security_headers(await frame_origins(request, workspace)))


@routes.get(
    "/widget/static/{name}",
    "plotly.js, content-hashed and cached for a year; plotly.js redirects to the current one",
    auth="none",
    ok=Media("text/javascript; charset=utf-8", "a script"),
    also={302: None, 304: None},
    path_params={"name": {"type": "string", "maxLength": 128}},
)
async def static(call: Call[Any, None]) -> Response:
    request = call.request
    if call.path["name"] == "plotly.js":  # the web UI loads plotly by this stable name
        return RedirectResponse(page.plotly_name(), status_code=302, headers={"Cache-Control": "no-cache"})
    asset = page.assets().get(call.path["name"])
    if asset is None:
        raise ApiError(404, "not_found", "no such file", "name")
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body, headers["Content-Encoding"] = asset.gzipped, "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
