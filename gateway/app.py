"""The Starlette application: lifespan opens the gRPC channels, routes live in ``routes/``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from prometheus_client import make_asgi_app
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.routing import Mount, Route
from tracklane_proto import (
    artifact_pb2_grpc,
    ingest_pb2_grpc,
    metadata_pb2_grpc,
    metrics_pb2_grpc,
    reporting_pb2_grpc,
)

from gateway import api, errors, mlflow, openapi, webui
from gateway.embeds import GrantCache, load_secret
from gateway.middleware import RequestContext
from gateway.routes import ENDPOINTS
from gateway.sessions import SessionCodec
from gateway.settings import Settings
from gateway.state import GatewayState
from services.common import bus
from services.common.auth import KeyResolver


def by_path(routes: list[Route]) -> list[Route]:
    """One Starlette route per path, dispatching on the method: a method the path does not take
    then answers ``405`` with an ``Allow`` header naming every method it does take (separate
    routes for one path would each name only their own)."""
    paths: dict[str, list[Route]] = {}
    for route in routes:
        paths.setdefault(route.path, []).append(route)
    out = []
    for path, same in paths.items():
        if len(same) == 1:
            out.append(same[0])
            continue
        handlers = {m: r.endpoint for r in same for m in (r.methods or ())}
        if len(handlers) != sum(len(r.methods or ()) for r in same):
            raise ValueError(f"{path}: a method is routed twice")

        async def dispatch(request: Request, handlers: dict[str, Callable[..., Any]] = handlers) -> Any:
            return await handlers[request.method](request)

        out.append(Route(path, dispatch, methods=sorted(handlers), name=same[0].name))
    return out


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    document = openapi.build(ENDPOINTS)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, GatewayState]]:
        metadata = grpc.aio.insecure_channel(settings.common.metadata_addr)
        metrics = grpc.aio.insecure_channel(settings.common.metrics_addr)
        artifact = grpc.aio.insecure_channel(settings.common.artifact_addr)
        reporting = grpc.aio.insecure_channel(settings.common.reporting_addr)
        ingestion = grpc.aio.insecure_channel(settings.common.ingestion_addr)
        meta_stub = metadata_pb2_grpc.MetadataServiceStub(metadata)
        nc, js = await bus.connect(settings.common.nats_url, "gateway")
        secret = load_secret(settings.embed_secret, settings.common.data_dir)
        await bus.ensure_stream(js, settings.common.nats_replicas)
        st = GatewayState(
            channels=[metadata, metrics, artifact, reporting, ingestion],
            js=js,
            metadata=meta_stub,
            metrics=metrics_pb2_grpc.MetricsServiceStub(metrics),
            artifacts=artifact_pb2_grpc.ArtifactServiceStub(artifact),
            reporting=reporting_pb2_grpc.ReportingServiceStub(reporting),
            ingest=ingest_pb2_grpc.IngestServiceStub(ingestion),
            keys=KeyResolver(meta_stub, ttl_s=settings.common.key_cache_ttl),
            grants=GrantCache(meta_stub, ttl_s=settings.common.key_cache_ttl),
            embed_secret=secret,
            sessions=SessionCodec(secret, settings.session_ttl),
            settings=settings,
            openapi=document,
        )
        try:
            yield {"tl": st}
        finally:
            await nc.drain()
            for channel in st.channels:
                await channel.close()

    return Starlette(
        routes=[
            *by_path([api.route(e) for e in ENDPOINTS]),
            *by_path(mlflow.routes()),
            Mount("/metrics", app=make_asgi_app()),
            webui.route(settings.ui_dir, settings.object_origins),  # last: the pages of the web UI
        ],
        middleware=[
            Middleware(RequestContext),
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "Idempotency-Key",
                    "If-None-Match",
                    "X-Request-Id",
                    "X-CSRF-Token",
                ],
                expose_headers=["ETag", "X-Request-Id"],
                max_age=600,
            ),
        ],
        lifespan=lifespan,
        exception_handlers={
            errors.ApiError: errors.api_error,
            HTTPException: errors.http_error,
            grpc.aio.AioRpcError: errors.grpc_error,
            Exception: errors.unexpected_error,
        },
    )


def write_openapi() -> None:
    """The OpenAPI document on stdout: ``make ui-types`` generates the UI's types from it."""
    print(json.dumps(openapi.build(ENDPOINTS), indent=1))
