"""``/api/v1/embeds``: embed grants (created, listed, revoked) and the "Embed" action, which
returns an iframe snippet for a widget, with a token when what it shows is private."""

from __future__ import annotations

import html
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.routing import Route
from tracklane_proto import events_pb2, metadata_pb2

from gateway.commands import publish, require_writer, wait_applied
from gateway.embeds import sign
from gateway.errors import ApiError
from gateway.http import accepted, json_object, only_fields, string_field
from gateway.respond import JSONResponse
from gateway.state import principal, state
from gateway.widget import data
from gateway.widget.spec import WidgetSpec, parse
from services.common.auth import Principal
from services.common.contract import WORKSPACE_LEVEL

DAY = 86_400.0
DEFAULT_TTL = 30 * DAY
MAX_TTL = 365 * DAY
MIN_TTL = 60.0
# Parameters that say what to draw, not what to show: not part of a grant's scope.
_SCOPE_FREE = {"token", "format"}


def _grant_json(e: metadata_pb2.Embed) -> dict[str, Any]:
    return {
        "id": e.embed_id,
        "name": e.name,
        "scope": json.loads(e.scope_json),
        "expires_at": e.expires_at,
        "expired": e.expires_at <= time.time(),
        "revoked": e.revoked,
        "created_at": e.created_at,
        "created_by": e.created_by,
    }


async def _grants(request: Request, workspace: str) -> list[metadata_pb2.Embed]:
    resp = await state(request).metadata.ListEmbeds(metadata_pb2.ListEmbedsRequest(workspace=workspace), timeout=10)
    return list(resp.embeds)


def _ttl(body: dict[str, Any]) -> float:
    value = body.get("expires_in", DEFAULT_TTL)
    if isinstance(value, bool) or not isinstance(value, int | float) or not MIN_TTL <= value <= MAX_TTL:
        raise ApiError(400, "invalid_argument", f"expires_in: seconds, {MIN_TTL:.0f} to {MAX_TTL:.0f}", "expires_in")
    return float(value)


def _spec_of(body: dict[str, Any]) -> WidgetSpec:
    """The widget a grant is for: ``widget`` (its URL or query string), or ``objects`` (ids)."""
    widget = string_field(body, "widget")
    objects = body.get("objects")
    if (widget is None) == (objects is None):
        raise ApiError(400, "invalid_argument", "give either widget (a /widget/ URL) or objects (ids)", "widget")
    if widget is not None:
        query = urlsplit(widget).query if "?" in widget else widget
        return parse(parse_qsl(query, keep_blank_values=True))
    if not isinstance(objects, list) or not objects or not all(isinstance(o, str) for o in objects):
        raise ApiError(400, "invalid_argument", "objects: a list of ids", "objects")
    object_type = string_field(body, "objectType") or "task"
    return parse([("objectType", object_type), *(("objects", o) for o in objects)])


async def _create(request: Request, who: Principal, spec: WidgetSpec, name: str, ttl: float) -> tuple[str, str, float]:
    """(grant id, token, expiry) of a new grant for ``spec``'s scope."""
    embed_id, expires_at = secrets.token_hex(8), float(int(time.time() + ttl))
    event = events_pb2.EmbedCreated(
        embed_id=embed_id, scope_json=json.dumps(spec.scope(), sort_keys=True), expires_at=expires_at, name=name,
        by_key=who.key_id,
    )  # fmt: skip
    st = state(request)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"embed.{embed_id}.created", embed_created=event)
    # A grant that lags still works: the widget reads it through the metadata service, which
    # has it within the wait in all but a stalled projection (then the widget answers 401).
    await wait_applied(st.js, done.stream_seq)
    return embed_id, sign(st.embed_secret, who.workspace, embed_id, expires_at), expires_at


async def _checked_scope(request: Request, who: Principal, spec: WidgetSpec) -> list[Any]:
    """The widget's experiments as the caller sees them now: a grant never covers ids the
    caller cannot read (404 for those)."""
    if spec.token is not None:
        raise ApiError(400, "invalid_argument", "token: leave it out; a grant makes its own", "token")
    return await data.experiments_of(state(request), who, spec)


async def create_embed(request: Request) -> JSONResponse:
    """POST ``{"widget": "/widget/?objects=…&type=scalar", "name": …, "expires_in": seconds}``
    (or ``{"objects": [ids], "objectType": "task"}``) -> the grant and its token, shown this once."""
    who = await principal(request)
    require_writer(who)
    body = await json_object(request)
    only_fields(body, ("widget", "objects", "objectType", "name", "expires_in"))
    spec = _spec_of(body)
    name = (string_field(body, "name") or "")[:128]
    ttl = _ttl(body)
    await _checked_scope(request, who, spec)
    embed_id, token, expires_at = await _create(request, who, spec, name, ttl)
    return JSONResponse(
        {"id": embed_id, "token": token, "name": name, "scope": spec.scope(), "expires_at": expires_at},
        status_code=201,
    )


async def list_embeds(request: Request) -> JSONResponse:
    who = await principal(request)
    return JSONResponse({"embeds": [_grant_json(e) for e in await _grants(request, who.workspace)]})


async def revoke_embed(request: Request) -> JSONResponse:
    """An admin, or the key that created the grant; every widget using its token stops."""
    who = await principal(request)
    embed_id = request.path_params["embed_id"]
    grant = next((e for e in await _grants(request, who.workspace) if e.embed_id == embed_id), None)
    if grant is None or (who.role != "admin" and grant.created_by != who.key_id):
        raise ApiError(404, "not_found", f"embed {embed_id} not found", "embed_id")
    st = state(request)
    event = events_pb2.EmbedRevoked(embed_id=embed_id)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"embed.{embed_id}.revoked", embed_revoked=event)
    applied = await wait_applied(st.js, done.stream_seq)
    st.grants.forget()
    if not applied:
        return accepted(done.event_id)
    return JSONResponse({"id": embed_id, "revoked": True})


async def embed_code(request: Request) -> JSONResponse:
    """``GET /api/v1/embeds/code?<widget parameters>`` -> ``{"code": "<iframe …>", "url", …}``.
    Public experiments need no token; private ones get one, reusing this key's live grant for the
    same scope (so asking twice does not pile up grants)."""
    who = await principal(request)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in _SCOPE_FREE]
    spec = parse(params)
    exps = await _checked_scope(request, who, spec)
    st = state(request)
    public_paths = set()
    if exps:
        public = await st.metadata.ListProjects(
            metadata_pb2.ListProjectsRequest(workspace=who.workspace, public_only=True, page_size=500), timeout=10
        )
        public_paths = {p.path for p in public.projects}
    is_public = bool(exps) and bool(spec.objects) and all(e.project in public_paths for e in exps)
    grant_id, expires_at = None, None
    if is_public:
        query = urlencode([*params, ("workspace", who.workspace)] if not spec.workspace else params)
    else:
        require_writer(who)
        scope = json.dumps(spec.scope(), sort_keys=True)
        now = time.time()
        live = [
            g for g in await _grants(request, who.workspace)
            if g.scope_json == scope and g.created_by == who.key_id and not g.revoked and g.expires_at > now + DAY
        ]  # fmt: skip
        if live:
            grant = max(live, key=lambda g: g.expires_at)
            grant_id, expires_at = grant.embed_id, grant.expires_at
            token = sign(st.embed_secret, who.workspace, grant_id, expires_at)
        else:
            grant_id, token, expires_at = await _create(request, who, spec, "embed code", DEFAULT_TTL)
        query = urlencode([*params, ("token", token)])
    base = st.settings.public_url or str(request.base_url).rstrip("/")
    url = f"{base}/widget/?{query}"
    code = f'<iframe src="{html.escape(url)}" width="100%" height="400" frameborder="0"></iframe>'
    return JSONResponse({"code": code, "url": url, "public": is_public, "grant": grant_id, "expires_at": expires_at})


routes = [
    Route("/api/v1/embeds", create_embed, methods=["POST"]),
    Route("/api/v1/embeds", list_embeds, methods=["GET"]),
    Route("/api/v1/embeds/code", embed_code, methods=["GET"]),
    Route("/api/v1/embeds/{embed_id}/revoke", revoke_embed, methods=["POST"]),
]
