"""Liveness and readiness."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.state import state


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when every service the gateway calls answers SERVING to gRPC health checks."""

    async def check(channel: grpc.aio.Channel) -> bool:
        try:
            resp = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.aio.AioRpcError:
            return False
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

    st = state(request)
    results = await asyncio.gather(*(check(c) for c in st.channels))
    ready = all(results)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "services": results}, status_code=200 if ready else 503
    )


routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
