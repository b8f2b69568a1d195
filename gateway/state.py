"""What the lifespan opens and every route uses: gRPC stubs to the services and the key cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from nats.js import JetStreamContext
from starlette.requests import Request
from tracklane_proto import (
    artifact_pb2_grpc,
    ingest_pb2_grpc,
    metadata_pb2_grpc,
    metrics_pb2_grpc,
    reporting_pb2_grpc,
)

from gateway.embeds import GrantCache
from gateway.errors import ApiError
from gateway.sessions import COOKIE, CSRF_HEADER, SAFE_METHODS, SessionCodec, SignInLimiter
from gateway.settings import Settings
from services.common.auth import PUBLIC_ROLE, KeyResolver, Principal, UnauthenticatedError, bearer


@dataclass
class GatewayState:
    channels: list[grpc.aio.Channel]
    js: JetStreamContext
    metadata: metadata_pb2_grpc.MetadataServiceStub
    metrics: metrics_pb2_grpc.MetricsServiceStub
    artifacts: artifact_pb2_grpc.ArtifactServiceStub
    reporting: reporting_pb2_grpc.ReportingServiceStub
    ingest: ingest_pb2_grpc.IngestServiceStub  # the MLflow API writes through ingestion, as an SDK does
    keys: KeyResolver
    grants: GrantCache
    embed_secret: bytes
    settings: Settings
    sessions: SessionCodec
    openapi: dict[str, Any] = field(default_factory=dict)  # the served OpenAPI document
    sign_ins: SignInLimiter = field(default_factory=SignInLimiter)


def state(request: Request) -> GatewayState:
    st: GatewayState = request.state.tl
    return st


async def principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``, else from the browser's session cookie
    (whose writes must carry the session's CSRF token); 401 otherwise."""
    st = state(request)
    header = request.headers.get("authorization")
    token = request.cookies.get(COOKIE)
    if header is not None or token is None:
        try:
            return await st.keys.resolve(bearer(header))
        except UnauthenticatedError as exc:
            raise ApiError(401, "unauthenticated", str(exc), "Authorization") from None
    session = st.sessions.verify(token)
    if session is None:
        raise ApiError(401, "unauthenticated", "the session expired or is not valid: sign in again", "Cookie")
    if request.method not in SAFE_METHODS and not st.sessions.csrf_ok(session, request.headers.get(CSRF_HEADER)):
        message = "a write with the session cookie carries its X-CSRF-Token (see GET /api/v1/session)"
        raise ApiError(403, "forbidden", message, "X-CSRF-Token")
    try:
        return await st.keys.resolve_hash(session.key_hash)
    except UnauthenticatedError as exc:
        raise ApiError(401, "unauthenticated", f"{exc}: sign in again", "Cookie") from None


async def reader(request: Request) -> Principal:
    """The caller of a read. With a key, its principal (401 when the key is bad). Without any
    ``Authorization`` header, an anonymous reader who sees public projects only: of the workspace
    named by ``?workspace=`` (listings require one), or, for reads by experiment id, of whichever
    workspace holds that id."""
    if "authorization" in request.headers or COOKIE in request.cookies:
        return await principal(request)
    workspace = request.query_params.get("workspace", "")
    return Principal(workspace, PUBLIC_ROLE, "")
