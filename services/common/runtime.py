"""The life of a service process: gRPC server, health, Prometheus, signals, graceful shutdown.

Every service's ``__main__`` builds a :class:`Service` and calls :func:`run`. On SIGTERM or
SIGINT the health status turns NOT_SERVING, the gRPC server stops taking new calls and lets
in-flight ones finish within the grace period, then the service's background tasks (projection
consumers) are asked to finish the batch they hold and the service's ``close`` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import start_http_server

log = structlog.get_logger()

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 32 * 1024 * 1024),
    ("grpc.max_send_message_length", 32 * 1024 * 1024),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5000),
]


class MalformedRequestError(Exception):
    """A request that is not a valid protobuf message of the method's type."""


class _Malformed:
    def __init__(self, error: str) -> None:
        self.error = error


# An error's details travel percent-encoded in a trailer, which gRPC clients refuse past 8 KiB
# (soft) and 16 KiB (hard): at most this many bytes of UTF-8, about 4.5 KiB once encoded.
MAX_DETAILS_BYTES = 1500


def bounded(details: str) -> str:
    """An error's details, cut to MAX_DETAILS_BYTES (a message may quote a huge input)."""
    raw = details.encode()
    if len(raw) <= MAX_DETAILS_BYTES:
        return details
    kept = raw[:MAX_DETAILS_BYTES].decode(errors="ignore")
    return f"{kept}… ({len(details) - len(kept)} more characters)"


class _BoundedContext:
    """A handler's context whose error details never outgrow the trailer they travel in (a
    refusal quoting a 70 KB name would otherwise reach the client as RESOURCE_EXHAUSTED)."""

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        self._context = context

    async def abort(self, code: grpc.StatusCode, details: str = "", *args: Any) -> None:
        await self._context.abort(code, bounded(details), *args)

    def set_details(self, details: str) -> None:
        self._context.set_details(bounded(details))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class MalformedRequestInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Answers INVALID_ARGUMENT (not grpc's UNKNOWN) to a request that does not decode. The
    deserializer is wrapped so that a decode error reaches the handler as a marker. Error
    details are bounded (:func:`bounded`)."""

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        decode = handler.request_deserializer

        def tolerant(data: bytes) -> Any:
            try:
                return decode(data)
            except Exception as exc:  # protobuf's DecodeError, or anything a bad buffer raises
                return _Malformed(str(exc))

        if handler.unary_unary is not None:
            inner_unary = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await _refuse_malformed(request, context)
                return await inner_unary(request, _BoundedContext(context))

            return handler._replace(request_deserializer=tolerant, unary_unary=unary)
        if handler.stream_stream is not None:
            inner_stream = handler.stream_stream

            async def stream(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                async def checked() -> Any:
                    async for request in requests:
                        if isinstance(request, _Malformed):
                            raise MalformedRequestError(f"request: malformed message ({request.error})")
                        yield request

                async for response in inner_stream(checked(), _BoundedContext(context)):
                    yield response

            return handler._replace(request_deserializer=tolerant, stream_stream=stream)
        if handler.unary_stream is not None:
            inner_answers = handler.unary_stream

            async def answers(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await _refuse_malformed(request, context)
                async for response in inner_answers(request, _BoundedContext(context)):
                    yield response

            return handler._replace(request_deserializer=tolerant, unary_stream=answers)
        return handler


async def _refuse_malformed(request: Any, context: grpc.aio.ServicerContext) -> None:
    """A request whose bytes did not decode is refused as INVALID_ARGUMENT, never UNKNOWN."""
    if isinstance(request, _Malformed):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request: malformed message ({request.error})")


@dataclass
class Service:
    """What a service brings to :func:`run`."""

    name: str
    grpc_addr: str
    prometheus_port: int
    register: Callable[[grpc.aio.Server], None]
    # Long-running coroutines (consumers). They must return promptly once `stopping` is set.
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(default_factory=list)
    close: Callable[[], Awaitable[None]] | None = None
    grace: float = 10.0


async def run(service: Service) -> None:
    """Serves until SIGTERM/SIGINT, then shuts down gracefully."""
    server = grpc.aio.server(options=GRPC_OPTIONS, interceptors=[MalformedRequestInterceptor()])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    service.register(server)
    port = server.add_insecure_port(service.grpc_addr)
    if port == 0:
        raise RuntimeError(f"cannot listen on {service.grpc_addr}")
    if service.prometheus_port:
        host = service.grpc_addr.rpartition(":")[0]
        start_http_server(service.prometheus_port, addr=host)
    await server.start()

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    tasks = [
        asyncio.create_task(job(stopping), name=f"{service.name}-bg{i}") for i, job in enumerate(service.background)
    ]
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set(service.name, health_pb2.HealthCheckResponse.SERVING)
    log.info("service.started", grpc=service.grpc_addr, prometheus=service.prometheus_port)

    # A background task that dies takes the process down: a supervisor restarts it, which is
    # safer than serving with a dead projection.
    waiter = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in done if t is not waiter and t.exception() is not None]
    for task in failed:
        log.error("service.background_failed", task=task.get_name(), error=repr(task.exception()))
    stopping.set()

    log.info("service.stopping")
    await health_servicer.enter_graceful_shutdown()
    await server.stop(service.grace)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=service.grace)
    if service.close is not None:
        await service.close()
    log.info("service.stopped")
    if failed:
        raise SystemExit(1)
