"""The event log on NATS JetStream: stream layout, publishing with bounded windows, consumers.

One stream, ``TL_EVENTS``, holds every event under ``tl.ev.<workspace>.<experiment>.<kind>``.
Publishing sets ``Nats-Msg-Id`` to the event id, so a resend inside the duplicate window is
dropped by the server; projections are idempotent for whatever gets past that window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats
import structlog
from google.protobuf.message import DecodeError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from tracklane_proto import events_pb2

from services.common import contract
from services.common.events import parse
from services.common.projections import Positioned, ProjectionSpec

log = structlog.get_logger()

STREAM = "TL_EVENTS"
SUBJECTS = f"{contract.SUBJECT_PREFIX}.>"
# Resends after a reconnect arrive well within this window; later duplicates are handled by the
# projections' own idempotency.
DUPLICATE_WINDOW_S = 20 * 60
PUBLISH_TIMEOUT_S = 10.0


async def connect(url: str, name: str) -> tuple[NatsClient, JetStreamContext]:
    """Connects with endless reconnects (a restarted nats-server is waited for, not fatal).
    ``url`` may list a cluster's members, comma-separated: any one that answers will do."""
    nc = await nats.connect(
        [u.strip() for u in url.split(",") if u.strip()],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )
    return nc, nc.jetstream(publish_async_max_pending=8192)


# JetStream's answers when the log cannot take more: the server's store is full (10023
# "insufficient resources"), or a stream limit with discard-new (10077 "maximum bytes exceeded").
LOG_FULL_CODES = frozenset({10023, 10077})


def log_full(exc: BaseException) -> bool:
    """Whether a publish failed because the event log is full (not because it is unreachable)."""
    return isinstance(exc, APIError) and exc.err_code in LOG_FULL_CODES


async def ensure_stream(js: JetStreamContext, replicas: int = 1) -> None:
    """Creates the event stream if missing (idempotent; every writer calls it at start), with
    ``replicas`` copies on a JetStream cluster (an acknowledged publish is then on a majority)."""
    config = StreamConfig(
        num_replicas=replicas,
        name=STREAM,
        subjects=[SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_msg_size=16 * 1024 * 1024,
    )
    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        await js.add_stream(config)


async def key_value(js: JetStreamContext, bucket: str, replicas: int = 1) -> Any:
    """The key-value bucket ``bucket`` (one value per key), made on first use."""
    try:
        return await js.key_value(bucket)
    except NotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=bucket, history=1, replicas=replicas))


SEQUENCES = "TL_SEQ"  # JetStream key-value bucket: the last server-assigned sequence per experiment
SERVER_SEQ_BASE = 1 << 48  # server-assigned sequences start above any a client could reach


class Sequencer:
    """Sequences for writers that have none (the MLflow API): ``reserve(ws, exp, n)`` hands out
    ``n`` consecutive, never reused sequences per experiment, from a compare-and-set counter in
    a JetStream key-value bucket, so any number of ingestion replicas agree without talking."""

    def __init__(self, kv: Any) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> Sequencer:
        return cls(await key_value(js, SEQUENCES, replicas))

    async def reserve(self, workspace: str, experiment_id: str, n: int) -> int:
        """The first of ``n`` fresh sequences of the experiment."""
        key = f"{workspace}.{experiment_id}"
        for _ in range(100):
            try:
                entry = await self.kv.get(key)
            except KeyNotFoundError:
                try:
                    await self.kv.create(key, str(SERVER_SEQ_BASE + n).encode())
                except KeyWrongLastSequenceError:
                    continue  # another replica created it first
                return SERVER_SEQ_BASE + 1
            last = int(entry.value or b"0")
            try:
                await self.kv.update(key, str(last + n).encode(), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue  # another replica took some: read again
            return last + 1
        raise RuntimeError(f"sequences of {experiment_id}: too many concurrent writers")


@dataclass(frozen=True)
class Outgoing:
    """One event ready for the log."""

    subject: str
    msg_id: str
    data: bytes

    @classmethod
    def of(cls, event: events_pb2.Event) -> Outgoing:
        """The event on its subject (``contract.subject``), deduplicated by its id."""
        return cls(
            contract.subject(event.workspace, event.experiment_id, contract.kind_of(event)),
            event.event_id,
            event.SerializeToString(),
        )


async def publish_all(js: JetStreamContext, events: Sequence[Outgoing]) -> int:
    """Publishes every event with a window of outstanding acks and returns once JetStream
    persisted all of them, with the highest stream sequence among them (what a reader waits for
    to see them); raises if any was not persisted (the caller then must not ack)."""
    futures = [
        await js.publish_async(ev.subject, ev.data, headers={"Nats-Msg-Id": ev.msg_id}, stream=STREAM) for ev in events
    ]
    try:
        acks = await asyncio.wait_for(asyncio.gather(*futures), timeout=PUBLISH_TIMEOUT_S)
        return max((int(a.seq) for a in acks), default=0)
    except TimeoutError:
        # nats-py loses an error answer to publish_async (its reply handler raises instead of
        # failing the future), so a full log looks like a timeout: publish the first event not
        # acknowledged once more, synchronously, to learn why (its id dedups it if it landed).
        first = next(
            (ev for ev, f in zip(events, futures, strict=True) if f.cancelled() or not f.done() or f.exception()), None
        )
        if first is not None:
            await js.publish(first.subject, first.data, headers={"Nats-Msg-Id": first.msg_id}, stream=STREAM,
                             timeout=PUBLISH_TIMEOUT_S)  # fmt: skip
        raise


Handler = Callable[[Sequence[Positioned]], Awaitable[None]]


def positioned(msgs: Sequence[Msg]) -> list[Positioned]:
    """JetStream messages as ``(event, position)`` pairs, the position being the stream
    sequence (marked redelivered when JetStream delivered the message before). A message that
    is not an event (a foreign writer, a bug) is logged and left out: it must never block the
    log."""
    out = []
    for msg in msgs:
        try:
            event = parse(msg.data)
        except (DecodeError, ValueError, KeyError) as exc:
            log.error("consumer.bad_event", subject=msg.subject, error=repr(exc))
            continue
        meta = msg.metadata
        out.append(Positioned(event, int(meta.sequence.stream), redelivered=int(meta.num_delivered or 1) > 1))
    return out


def consumer_config(spec: ProjectionSpec, start: int = 0, ack_wait_s: float = 60.0) -> ConsumerConfig:
    """A projection's durable consumer: from the log's first event, or from position ``start``
    (a replay makes it again past what it took from the archive)."""
    return ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start else DeliverPolicy.ALL,
        opt_start_seq=start or None,
        ack_wait=ack_wait_s,
        max_ack_pending=20_000,
        filter_subjects=spec.filter_subjects,
    )


async def consume(
    js: JetStreamContext,
    spec: ProjectionSpec,
    handler: Handler,
    stopping: asyncio.Event,
    *,
    batch: int = 256,
    ack_wait_s: float = 60.0,
) -> None:
    """Feeds the durable pull consumer named by ``spec`` to ``handler`` a fetched batch at a
    time, as ``(event, position)`` pairs, and acks the batch only after the handler returned. A
    handler error acks nothing: the messages come back after a short delay and the (idempotent)
    handler sees them again. Returns when ``stopping`` is set, after finishing the batch in hand."""
    durable, filter_subjects = spec.durable, spec.filter_subjects
    config = consumer_config(spec, ack_wait_s=ack_wait_s)
    existing = await _filters(js, durable)
    if existing != sorted(filter_subjects):
        # New, or a newer release consumes more kinds: create, or update the filters in place
        # (the consumer keeps its position on the log).
        await js.add_consumer(STREAM, config)
    sub = await js.pull_subscribe_bind(durable, stream=STREAM)
    log.info("consumer.started", durable=durable, filters=filter_subjects)
    while not stopping.is_set():
        try:
            msgs = await sub.fetch(batch, timeout=0.5)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        except nats.errors.Error as exc:  # server restarting: wait for the reconnect
            log.warning("consumer.fetch_failed", durable=durable, error=repr(exc))
            await asyncio.sleep(0.5)
            continue
        try:
            await handler(positioned(msgs))
        except Exception:
            # Nothing is acked: the batch comes back after a short delay and the idempotent
            # handler applies it again.
            log.exception("consumer.handler_failed", durable=durable, messages=len(msgs))
            for msg in msgs:
                await msg.nak(delay=1.0)
            continue
        for msg in msgs:
            await msg.ack()
    await sub.unsubscribe()


async def _filters(js: JetStreamContext, durable: str) -> list[str] | None:
    """The durable's filter subjects, sorted; None when it does not exist."""
    try:
        info = await js.consumer_info(STREAM, durable)
    except NotFoundError:
        return None
    config = info.config
    return sorted(config.filter_subjects or ([config.filter_subject] if config.filter_subject else []))
