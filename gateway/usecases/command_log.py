"""The command log: how a command from a person becomes an event, and when it counts as applied.

The gateway validates a command, publishes its event to JetStream, then waits until the durable
consumer of each projection the answer reads from (named in ``services.common.projections``'
registry; the ack floor is computed by the JetStream server, so it holds for any number of
replicas) has passed the event's stream sequence: the read model now includes it, and the
response shows it (read-your-writes).

When a projection lags longer than the wait, every command answers the same way: ``202
Accepted`` with ``{"status": "accepted", "event_id": …}`` (and, for commands that make a
secret shown only once, that secret too); the change is on the log and still lands.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from gateway.errors import ApiError
from services.common import bus
from services.common.auth import WRITE_ROLES, Principal
from services.common.contract import new_event
from services.common.projections import REGISTRY

# How long a command waits for its projections before answering 202 Accepted.
APPLY_WAIT_S = 5.0
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise ApiError(403, "forbidden", "only an admin key can manage keys and workspaces", "Authorization")


def require_writer(principal: Principal) -> None:
    if principal.role not in WRITE_ROLES:
        raise ApiError(403, "forbidden", f"a {principal.role} key cannot change anything", "Authorization")


def command_id(idempotency_key: str | None) -> str:
    """The client's ``Idempotency-Key`` (a retried request then changes nothing twice), or new."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    if not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise ApiError(400, "invalid_argument", "Idempotency-Key must be 8-64 of [A-Za-z0-9_-]", "Idempotency-Key")
    return idempotency_key


@dataclass(frozen=True)
class Published:
    event_id: str
    stream_seq: int
    duplicate: bool  # JetStream had this event id already (a retried command)


class StaleVersionError(Exception):
    """The subject moved past the version a command was made on (JetStream refused it)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the current version is {current}")
        self.current = current


WRONG_LAST_SEQUENCE = 10071  # JetStream's error code for a failed expected-last-subject-sequence


async def publish(
    js: JetStreamContext, workspace: str, target: str, event_id: str, *, expect: int | None = None, **payload: Any
) -> Published:
    """Publishes one command event (``payload`` is its one field, e.g. ``experiment_edited=…``)
    about ``target`` (an experiment id, a report id, or WORKSPACE_LEVEL); returns once JetStream
    persisted it. ``expect``: the stream sequence of the newest event on the event's subject that
    the command was made on (0: none); JetStream refuses it atomically when another landed since,
    and this raises :class:`StaleVersionError` naming the newer one."""
    event = new_event(workspace, target, event_id, **payload)
    out = bus.Outgoing.of(event)
    headers = {"Nats-Msg-Id": out.msg_id}
    if expect is not None:
        headers["Nats-Expected-Last-Subject-Sequence"] = str(expect)
    try:
        ack = await js.publish(out.subject, out.data, headers=headers, stream=bus.STREAM, timeout=bus.PUBLISH_TIMEOUT_S)
    except APIError as exc:
        if exc.err_code != WRONG_LAST_SEQUENCE:
            raise
        raise StaleVersionError(await last_sequence(js, out.subject)) from None
    return Published(event.event_id, int(ack.seq), bool(ack.duplicate))


async def last_sequence(js: JetStreamContext, subject: str) -> int:
    """The stream sequence of the newest event on ``subject`` (0: none)."""
    try:
        return int((await js.get_last_msg(bus.STREAM, subject)).seq or 0)
    except NotFoundError:
        return 0


async def wait_applied(
    js: JetStreamContext,
    stream_seq: int,
    projections: tuple[str, ...] = ("metadata",),
    within_s: float | None = None,
) -> bool:
    """True once every one of ``projections`` (names in the registry) has acked everything up to
    ``stream_seq`` (an event it takes: else see :func:`wait_caught_up`); False when that takes
    longer than ``within_s``."""
    deadline = time.monotonic() + (APPLY_WAIT_S if within_s is None else within_s)
    delay = 0.002  # a projection applies a small batch in milliseconds: look often, then less so
    pending = [REGISTRY[name].durable for name in projections]
    while pending:
        try:
            info = await js.consumer_info(bus.STREAM, pending[0])
        except NotFoundError:
            info = None  # a replay is making the read model again: not applied yet
        if info is not None and info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= stream_seq:
            pending.pop(0)
            continue
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.05)
    return True


async def wait_caught_up(js: JetStreamContext, projections: tuple[str, ...], within_s: float | None = None) -> bool:
    """Read-your-writes for a read: True once each of ``projections`` has applied the newest
    event of the kinds it takes that the log held when this was called — every write
    acknowledged before it, from any gateway replica; False when that takes longer than
    ``within_s``."""
    specs = [REGISTRY[name] for name in projections]
    subjects = sorted({s for spec in specs for s in spec.filter_subjects})
    newest = dict(zip(subjects, await asyncio.gather(*(last_sequence(js, s) for s in subjects)), strict=True))
    for spec in specs:
        seq = max(newest[s] for s in spec.filter_subjects)
        if seq and not await wait_applied(js, seq, (spec.name,), within_s):
            return False
    return True
