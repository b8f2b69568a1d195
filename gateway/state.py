"""What the lifespan opens and every route uses: gRPC stubs to the services and the key cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from nats.js import JetStreamContext
from starlette.requests import Request
from tracklane_proto import artifact_pb2_grpc, metadata_pb2_grpc, metrics_pb2_grpc

from gateway.embeds import GrantCache
from gateway.errors import ApiError
from gateway.settings import Settings
from services.common.auth import PUBLIC_ROLE, KeyResolver, Principal, UnauthenticatedError, bearer


@dataclass
class GatewayState:
    channels: list[grpc.aio.Channel]
    js: JetStreamContext
    metadata: metadata_pb2_grpc.MetadataServiceStub
    metrics: metrics_pb2_grpc.MetricsServiceStub
    artifacts: artifact_pb2_grpc.ArtifactServiceStub
    keys: KeyResolver
    grants: GrantCache
    embed_secret: bytes
    settings: Settings
    openapi: dict[str, Any] = field(default_factory=dict)  # the served OpenAPI document


def state(request: Request) -> GatewayState:
    st: GatewayState = request.state.tl
    return st


async def principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``; 401 otherwise."""
    try:
        return await state(request).keys.resolve(bearer(request.headers.get("authorization")))
    except UnauthenticatedError as exc:
        raise ApiError(401, "unauthenticated", str(exc), "Authorization") from None


async def reader(request: Request) -> Principal:
    """The caller of a read. With a key, its principal (401 when the key is bad). Without any
    ``Authorization`` header, an anonymous reader who sees public projects only: of the workspace
    named by ``?workspace=`` (listings require one), or, for reads by experiment id, of whichever
    workspace holds that id."""
    if "authorization" in request.headers:
        return await principal(request)
    workspace = request.query_params.get("workspace", "")
    return Principal(workspace, PUBLIC_ROLE, "")
