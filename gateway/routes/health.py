"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.responses import Response

from gateway import schemas as s
from gateway.api import Call, Media, Reply, Routes
from gateway.respond import JSONResponse

routes = Routes("health")


@routes.get("/healthz", "Liveness", ok=s.Health, auth="none")
async def healthz(call: Call[s.Empty, None]) -> s.Health:
    return s.Health(status="ok")


@routes.get(
    "/readyz",
    "Readiness: every service the gateway calls answers SERVING",
    ok=s.Readiness,
    also={503: s.Readiness},
    auth="none",
)
async def readyz(call: Call[s.Empty, None]) -> Any:
    async def check(channel: grpc.aio.Channel) -> bool:
        try:
            resp = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.aio.AioRpcError:
            return False
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

    results = list(await asyncio.gather(*(check(c) for c in call.st.channels)))
    ready = all(results)
    answer = s.Readiness(status="ready" if ready else "not ready", services=results)
    return answer if ready else Reply(503, answer)


@routes.get(
    "/api/v1/openapi.json",
    "This document (OpenAPI 3.1)",
    auth="none",
    ok=Media("application/json", "the document", {"type": "object"}),
)
async def openapi_document(call: Call[s.Empty, None]) -> Response:
    return JSONResponse(call.st.openapi)
