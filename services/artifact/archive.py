"""The archive: the event log kept in object storage, so that it outlives the stream's retention
and any read model can be rebuilt from the first event on.

The archiver reads every event of the stream through its own durable consumer (``archive``),
gathers them — as stored on the log, byte for byte, with their stream position — and writes them
in compressed batches, one object per batch, keyed by the batch's first and last position
(``_log/<first>-<last>.zlib``; ``_`` starts no workspace id, so no workspace's objects can meet
these). A batch is acknowledged only once its object is stored: an event is in the archive
before the stream may forget it. After a crash a batch comes back and may be written again, in
other boundaries, and two archivers sharing the consumer write interleaved batches: :func:`read`
merges every object by position and yields each position once.
"""

from __future__ import annotations

import asyncio
import heapq
import io
import re
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import nats
import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from services.artifact.store import ObjectStore
from services.common import bus

log = structlog.get_logger()

PREFIX = "_log/"
DURABLE = "archive"
_KEY = re.compile(r"^_log/(\d{20})-(\d{20})\.zlib$")
_RECORD = struct.Struct("<QI")  # position, length of the event's bytes
FLUSH_EVENTS = 10_000
FLUSH_BYTES = 8 * 1024 * 1024


def object_key(first: int, last: int) -> str:
    return f"{PREFIX}{first:020d}-{last:020d}.zlib"


def encode(records: list[tuple[int, bytes]]) -> bytes:
    """Records (position, event bytes) in position order, as one compressed blob."""
    return zlib.compress(b"".join(_RECORD.pack(p, len(data)) + data for p, data in records), 6)


def decode(blob: bytes) -> Iterator[tuple[int, bytes]]:
    raw = zlib.decompress(blob)
    at = 0
    while at < len(raw):
        position, length = _RECORD.unpack_from(raw, at)
        at += _RECORD.size
        yield position, raw[at : at + length]
        at += length


def objects(store: ObjectStore) -> list[tuple[int, int, str]]:
    """(first, last, key) of every archived batch, by first position."""
    out = []
    for key in store.keys(PREFIX):
        m = _KEY.match(key)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), key))
    return sorted(out)


def last_position(store: ObjectStore) -> int:
    """The highest position archived (0: none)."""
    return max((last for _, last, _ in objects(store)), default=0)


def read(store: ObjectStore, start: int = 1, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Every archived event with ``start <= position < stop``, in order, each position once,
    however the batches overlap. Opens a batch only when the merge reaches its first position,
    so memory holds the few batches that overlap the current position, not the archive."""
    pending = [o for o in objects(store) if o[1] >= start and (stop is None or o[0] < stop)]
    heap: list[tuple[int, int, bytes, Iterator[tuple[int, bytes]]]] = []
    opened, done = 0, start - 1

    def push(records: Iterator[tuple[int, bytes]], order: int) -> None:
        for position, data in records:
            if position > done:
                heapq.heappush(heap, (position, order, data, records))
                return

    while heap or opened < len(pending):
        while opened < len(pending) and (not heap or pending[opened][0] <= heap[0][0]):
            push(decode(store.get(pending[opened][2])), opened)
            opened += 1
        position, order, data, records = heapq.heappop(heap)
        if stop is not None and position >= stop:
            return
        if position > done:
            yield position, data
            done = position
        push(records, order)


def _settings(config: ConsumerConfig) -> tuple[float, int, str]:
    """What the archiver sets on its consumer that a restart may change."""
    return float(config.ack_wait or 0), int(config.max_ack_pending or 0), config.filter_subject or ""


def chunks(
    store: ObjectStore, start: int = 1, stop: int | None = None, max_bytes: int = 1 << 20
) -> Iterator[list[tuple[int, bytes]]]:
    """:func:`read`'s events in lists of at most about ``max_bytes`` (the last may be shorter)."""
    chunk: list[tuple[int, bytes]] = []
    size = 0
    for record in read(store, start, stop):
        chunk.append(record)
        size += len(record[1]) + 16
        if size >= max_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


async def run(
    js: JetStreamContext,
    store: ObjectStore,
    stopping: asyncio.Event,
    *,
    flush_s: float = 5.0,
    flush_events: int = FLUSH_EVENTS,
    flush_bytes: int = FLUSH_BYTES,
) -> None:
    """Archives the stream until ``stopping`` is set: a batch is written when it holds
    ``flush_events`` events or ``flush_bytes`` bytes, or its oldest event waited ``flush_s``
    seconds; what is in hand when stopping is written before returning."""
    config = ConsumerConfig(
        durable_name=DURABLE,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=max(30.0, flush_s * 4),  # what a killed archiver had in hand comes back after this
        max_ack_pending=flush_events * 4,
        filter_subject=bus.SUBJECTS,
    )
    try:
        had = (await js.consumer_info(bus.STREAM, DURABLE)).config
    except NotFoundError:
        had = None
    if had is None or _settings(had) != _settings(config):
        # New, or started with other flush settings: create it, or update those in place (the
        # consumer keeps its position on the log).
        await js.add_consumer(bus.STREAM, config)
    sub = await js.pull_subscribe_bind(DURABLE, stream=bus.STREAM)
    log.info("archive.started", durable=DURABLE)
    batch: list[Any] = []
    size, since = 0, 0.0
    while True:
        stop = stopping.is_set()
        if not stop:
            try:
                msgs = await sub.fetch(min(1000, flush_events), timeout=min(1.0, flush_s))
            except (TimeoutError, nats.errors.TimeoutError):
                msgs = []
            except nats.errors.Error as exc:  # server restarting: wait for the reconnect
                log.warning("archive.fetch_failed", error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            if msgs and not batch:
                since = time.monotonic()
            batch += msgs
            size += sum(len(m.data) for m in msgs)
        due = len(batch) >= flush_events or size >= flush_bytes or time.monotonic() - since >= flush_s
        if batch and (due or stop):
            await _write(store, batch)
            batch, size = [], 0
        if stop:
            break
    await sub.unsubscribe()


async def _write(store: ObjectStore, msgs: list[Any]) -> None:
    """Stores one batch, then acknowledges it (an error acknowledges nothing: it comes back)."""
    records = sorted((int(m.metadata.sequence.stream), bytes(m.data)) for m in msgs)
    blob = encode(records)
    first, last = records[0][0], records[-1][0]
    meta = {"first": str(first), "last": str(last), "events": str(len(records))}
    try:
        await asyncio.to_thread(store.put, object_key(first, last), io.BytesIO(blob), "application/zlib", meta)
    except Exception:
        log.exception("archive.write_failed", first=first, last=last)
        for m in msgs:
            await m.nak(delay=2.0)
        return
    for m in msgs:
        await m.ack()
    log.info("archive.written", first=first, last=last, events=len(records), bytes=len(blob))
