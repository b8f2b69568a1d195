"""Embed grants (created, listed, revoked) and the "Embed" action, which makes an iframe snippet
for a widget, with a token when what it shows is private."""

from __future__ import annotations

import html
import json
import secrets
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

from tracklane_proto import events_pb2, metadata_pb2

from gateway import schemas as s
from gateway import views
from gateway.embeds import sign
from gateway.errors import ApiError
from gateway.state import GatewayState
from gateway.usecases.command_log import publish, require_writer, wait_applied
from gateway.widget import data
from gateway.widget.spec import WidgetSpec, parse
from services.common.auth import Principal
from services.common.contract import EMBED_ID, WORKSPACE_LEVEL

DAY = 86_400.0
DEFAULT_TTL = 30 * DAY
# Parameters that say how to draw, not what to show: not part of a grant's scope.
SCOPE_FREE = {"token", "format"}


async def _grants(st: GatewayState, workspace: str) -> list[metadata_pb2.Embed]:
    resp = await st.metadata.ListEmbeds(metadata_pb2.ListEmbedsRequest(workspace=workspace), timeout=10)
    return list(resp.embeds)


def spec_of(body: s.EmbedRequest) -> WidgetSpec:
    """The widget a grant is for: ``widget`` (its URL or query string), or ``objects`` (ids)."""
    if (body.widget is None) == (body.objects is None):
        raise ApiError(400, "invalid_argument", "give either widget (a /widget/ URL) or objects (ids)", "widget")
    if body.widget is not None:
        query = urlsplit(body.widget).query if "?" in body.widget else body.widget
        return parse(parse_qsl(query, keep_blank_values=True))
    assert body.objects is not None
    return parse([("objectType", body.objectType), *(("objects", o) for o in body.objects)])


async def _create(st: GatewayState, who: Principal, spec: WidgetSpec, name: str, ttl: float) -> tuple[str, str, float]:
    """(grant id, token, expiry) of a new grant for ``spec``'s scope. A grant that lags still
    works: the widget reads it through the metadata service, which has it within the wait in all
    but a stalled projection (then the widget answers 401 until it lands)."""
    embed_id, expires_at = secrets.token_hex(8), float(int(time.time() + ttl))
    event = events_pb2.EmbedCreated(
        embed_id=embed_id, scope_json=json.dumps(spec.scope(), sort_keys=True), expires_at=expires_at, name=name,
        by_key=who.key_id,
    )  # fmt: skip
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"embed.{embed_id}.created", embed_created=event)
    await wait_applied(st.js, done.stream_seq)
    return embed_id, sign(st.embed_secret, who.workspace, embed_id, expires_at), expires_at


async def _checked_scope(st: GatewayState, who: Principal, spec: WidgetSpec) -> list[metadata_pb2.Experiment]:
    """The widget's experiments as the caller sees them now: a grant never covers ids the
    caller cannot read (404 for those)."""
    if spec.token is not None:
        raise ApiError(400, "invalid_argument", "token: leave it out; a grant makes its own", "token")
    return await data.experiments_of(st, who, spec)


async def create(st: GatewayState, who: Principal, body: s.EmbedRequest) -> s.NewEmbed:
    require_writer(who)
    spec = spec_of(body)
    await _checked_scope(st, who, spec)
    embed_id, token, expires_at = await _create(st, who, spec, body.name, body.expires_in)
    return s.NewEmbed(id=embed_id, token=token, name=body.name, scope=spec.scope(), expires_at=expires_at)


async def list_grants(st: GatewayState, who: Principal) -> s.Embeds:
    return s.Embeds(embeds=[views.embed(e) for e in await _grants(st, who.workspace)])


async def revoke(st: GatewayState, who: Principal, embed_id: str) -> tuple[str, bool]:
    """An admin, or the key that created the grant; every widget using its token stops.
    (event id, applied)."""
    grant = next((e for e in await _grants(st, who.workspace) if e.embed_id == embed_id), None)
    if not EMBED_ID.match(embed_id) or grant is None or (who.role != "admin" and grant.created_by != who.key_id):
        raise ApiError(404, "not_found", f"embed {embed_id} not found", "embed_id")
    event = events_pb2.EmbedRevoked(embed_id=embed_id)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"embed.{embed_id}.revoked", embed_revoked=event)
    applied = await wait_applied(st.js, done.stream_seq)
    st.grants.forget()
    return done.event_id, applied


async def embed_code(st: GatewayState, who: Principal, params: list[tuple[str, str]], base_url: str) -> s.EmbedCode:
    """The iframe snippet for the widget of ``params``. Public experiments need no token; private
    ones get one, reusing this key's live grant for the same scope (so asking twice does not pile
    up grants)."""
    params = [(k, v) for k, v in params if k not in SCOPE_FREE]
    spec = parse(params)
    exps = await _checked_scope(st, who, spec)
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
            g for g in await _grants(st, who.workspace)
            if g.scope_json == scope and g.created_by == who.key_id and not g.revoked and g.expires_at > now + DAY
        ]  # fmt: skip
        if live:
            grant = max(live, key=lambda g: g.expires_at)
            grant_id, expires_at = grant.embed_id, grant.expires_at
            token = sign(st.embed_secret, who.workspace, grant_id, expires_at)
        else:
            grant_id, token, expires_at = await _create(st, who, spec, "embed code", DEFAULT_TTL)
        query = urlencode([*params, ("token", token)])
    url = f"{st.settings.public_url or base_url}/widget/?{query}"
    code = f'<iframe src="{html.escape(url)}" width="100%" height="400" frameborder="0"></iframe>'
    return s.EmbedCode(code=code, url=url, public=is_public, grant=grant_id, expires_at=expires_at)
