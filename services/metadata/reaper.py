"""Marks experiments whose client is gone as stopped.

A running SDK heartbeats on its stream; ingestion turns that into a ``client_alive`` event at
most every ``TRACKLANE_ALIVE_INTERVAL`` seconds, and every event from the client counts too.
When a running experiment has not been heard of for ``TRACKLANE_HEARTBEAT_TIMEOUT`` seconds,
this loop publishes a ``status_changed`` (stopped) event to the log, like any other change, so
every read model and a replay see it. Its event id is deterministic, so replicas of the
metadata service doing the same agree (JetStream drops the duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog
from nats.js import JetStreamContext
from tracklane_proto import events_pb2

from services.common import bus
from services.common.contract import new_event
from services.metadata.store import MetadataStore

log = structlog.get_logger()


async def reap(
    store: MetadataStore,
    js: JetStreamContext,
    timeout_s: float,
    stopping: asyncio.Event,
    every_s: float | None = None,
    paused: Callable[[], bool] = lambda: False,
) -> None:
    """Every ``every_s``, stops the experiments not heard of for ``timeout_s`` — except while
    ``paused()`` (a replay rebuilding the read model: its heartbeats are not all applied yet)."""
    every = every_s if every_s is not None else min(10.0, max(0.5, timeout_s / 4))
    while not stopping.is_set():
        try:
            if not paused():
                await reap_once(store, js, timeout_s)
        except Exception as exc:  # the engines may be restarting: try again next round
            log.warning("reaper.failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=every)


async def reap_once(store: MetadataStore, js: JetStreamContext, timeout_s: float) -> int:
    now = time.time()
    stale = await store.stale_running(now - timeout_s)
    outgoing = []
    for doc in stale:
        seq = int(doc["status_seq"]) + 1
        event = new_event(
            doc["workspace"],
            doc["_id"],
            f"{doc['_id']}.timeout.{doc['status_seq']}",
            seq=seq,
            server_time=now,
            status_changed=events_pb2.StatusChanged(
                status=events_pb2.EXPERIMENT_STATUS_STOPPED,
                reason=f"no heartbeat from the client for {timeout_s:.0f} s",
                at=now,
            ),
        )
        outgoing.append(bus.Outgoing.of(event))
    if outgoing:
        await bus.publish_all(js, outgoing)
        log.info("reaper.stopped", experiments=len(outgoing))
    return len(outgoing)
