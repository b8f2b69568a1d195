"""Commands from people become events on the log, and answer with the state they produced.

The gateway validates a command, publishes its event to JetStream, then waits until the
metadata consumer's ack floor (computed by the JetStream server, so it holds for any number of
metadata replicas) has passed the event's stream sequence: the read model now includes it, and
the response shows it (read-your-writes). If the projection is slow the answer is
``202 Accepted`` with the event id; the change still lands.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from starlette.requests import Request
from tracklane.pb import events_pb2

from gateway.errors import ApiError
from gateway.respond import JSONResponse
from gateway.routes.experiments import _get, experiment_json
from gateway.state import state
from services.common import bus
from services.common.auth import WRITE_ROLES, Principal
from services.common.events import KIND_OF_PAYLOAD, SCHEMA_VERSION

METADATA_CONSUMER = "metadata"
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise ApiError(403, "forbidden", "only an admin key can manage keys and workspaces", "Authorization")


def require_writer(principal: Principal) -> None:
    if principal.role not in WRITE_ROLES:
        raise ApiError(403, "forbidden", f"a {principal.role} key cannot change anything", "Authorization")


def command_id(request: Request) -> str:
    """The client's ``Idempotency-Key`` (a retried request then changes nothing twice), or new."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return uuid.uuid4().hex
    if not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(400, "invalid_argument", "Idempotency-Key must be 8-64 of [A-Za-z0-9_-]", "Idempotency-Key")
    return key


@dataclass(frozen=True)
class Published:
    event_id: str
    stream_seq: int
    duplicate: bool  # JetStream had this event id already (a retried command)


async def publish(js: JetStreamContext, workspace: str, target: str, event_id: str, **payload: Any) -> Published:
    """Publishes one command event (``payload`` is its one field, e.g. ``experiment_edited=…``)
    about ``target`` (an experiment id, or WORKSPACE_LEVEL); returns once JetStream persisted it."""
    event = events_pb2.Event(
        event_id=event_id,
        workspace=workspace,
        experiment_id=target,
        seq=0,
        schema_version=SCHEMA_VERSION,
        server_time=time.time(),
        **payload,
    )
    kind = KIND_OF_PAYLOAD[event.WhichOneof("payload") or ""]
    ack = await js.publish(
        bus.event_subject(workspace, target, kind),
        event.SerializeToString(),
        headers={"Nats-Msg-Id": event.event_id},
        stream=bus.STREAM,
        timeout=bus.PUBLISH_TIMEOUT_S,
    )
    return Published(event.event_id, int(ack.seq), bool(ack.duplicate))


async def wait_applied(js: JetStreamContext, stream_seq: int, within_s: float = 5.0) -> bool:
    """True once the metadata projection has acked everything up to ``stream_seq``."""
    deadline = time.monotonic() + within_s
    delay = 0.005
    while time.monotonic() < deadline:
        info = await js.consumer_info(bus.STREAM, METADATA_CONSUMER)
        if info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= stream_seq:
            return True
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
    return False


async def answer(request: Request, experiment_id: str, event_id: str, stream_seq: int) -> JSONResponse:
    """The experiment as the command left it, or 202 with the event id when the projection is
    slower than the wait."""
    if not await wait_applied(state(request).js, stream_seq):
        return JSONResponse({"status": "accepted", "event_id": event_id}, status_code=202)
    return JSONResponse(experiment_json(await _get(request, experiment_id)))


def only_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """400 naming the first field of ``body`` that is not one of ``allowed``."""
    unknown = set(body) - set(allowed)
    if unknown:
        field = sorted(unknown)[0]
        raise ApiError(400, "invalid_argument", f"{field}: unknown here (use {', '.join(allowed)})", field)
