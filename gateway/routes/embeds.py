"""``/api/v1/embeds``: embed grants and the Embed action. HTTP only: each handler calls a use
case (``gateway.usecases.embed_grants``)."""

from __future__ import annotations

from typing import Any

from gateway import schemas as s
from gateway.api import Call, Reply, Routes
from gateway.usecases import embed_grants
from gateway.widget.spec import WIDGET_PARAMETERS

routes = Routes("embeds")


@routes.post(
    "/api/v1/embeds",
    "A grant for one widget's experiments; its token shown this once",
    body=s.EmbedRequest,
    ok=s.NewEmbed,
    status=201,
    links={"revoke": {"operationId": "post_revoke_embed", "parameters": {"embed_id": "$response.body#/id"}}},
)
async def create_embed(call: Call[s.Empty, s.EmbedRequest]) -> s.NewEmbed:
    return await embed_grants.create(call.st, call.who, call.body)


@routes.get("/api/v1/embeds", "The workspace's embed grants", ok=s.Embeds)
async def list_embeds(call: Call[s.Empty, None]) -> s.Embeds:
    return await embed_grants.list_grants(call.st, call.who)


@routes.get(
    "/api/v1/embeds/code",
    "The iframe code for a widget (with a token when it shows private data)",
    ok=s.EmbedCode,
    extra_parameters=[p for p in WIDGET_PARAMETERS if p["name"] not in ("token", "format")],
)
async def embed_code(call: Call[s.Empty, None]) -> s.EmbedCode:
    base = str(call.request.base_url).rstrip("/")
    return await embed_grants.embed_code(call.st, call.who, list(call.request.query_params.multi_items()), base)


@routes.post(
    "/api/v1/embeds/{embed_id}/revoke",
    "Revoke a grant: every widget using its token stops",
    ok=s.Revoked,
    also={202: s.Accepted},
)
async def revoke_embed(call: Call[s.Empty, None]) -> Any:
    embed_id = call.path["embed_id"]
    event_id, applied = await embed_grants.revoke(call.st, call.who, embed_id)
    return s.Revoked(id=embed_id, revoked=True) if applied else Reply(202, s.Accepted("accepted", event_id))
