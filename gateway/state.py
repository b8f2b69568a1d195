"""What the lifespan opens and every route uses: gRPC stubs to the services and the key cache."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from nats.js import JetStreamContext
from starlette.requests import Request
from tracklane.pb import artifact_pb2_grpc, metadata_pb2_grpc, metrics_pb2_grpc

from gateway.errors import ApiError
from services.common.auth import KeyResolver, Principal, UnauthenticatedError, bearer


@dataclass
class GatewayState:
    channels: list[grpc.aio.Channel]
    js: JetStreamContext
    metadata: metadata_pb2_grpc.MetadataServiceStub
    metrics: metrics_pb2_grpc.MetricsServiceStub
    artifacts: artifact_pb2_grpc.ArtifactServiceStub
    keys: KeyResolver


def state(request: Request) -> GatewayState:
    st: GatewayState = request.state.tl
    return st


async def principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``; 401 otherwise."""
    try:
        return await state(request).keys.resolve(bearer(request.headers.get("authorization")))
    except UnauthenticatedError as exc:
        raise ApiError(401, "unauthenticated", str(exc), "Authorization") from None
