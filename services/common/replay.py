"""Rebuilding a read model from the log: ``tracklane-server replay --read-model …``.

A replay is a job in the JetStream key-value bucket ``TL_REPLAY``, one key per read model. The
command writes the request; the service that owns the read model does the work, inside its
consumer loop (:class:`Consumer`), so it runs wherever the service runs (one machine or a
Kubernetes pod) with the service's own engines and settings:

1. every replica of the service stops consuming; one claims the job (compare-and-set) and holds
   it by renewing a lease;
2. **reset**: the durable consumer is deleted and the read model dropped and made again, empty;
3. **archive**: the archived events (:mod:`services.artifact.archive`, read over the artifact
   service's ``ReadArchive``) of the kinds the projection takes go through the projection, in
   position order, in batches, recording how far it got;
4. **stream**: the durable consumer is made again, starting just past the archive (or at the
   stream's first event, if the archive ends before it: a gap, recorded and logged), and the job
   turns ``live``: every replica consumes again, from there to the head of the log and on;
5. ``done`` once the consumer applied the newest event the log held for it when it turned live.

Ingestion goes on all along: new events wait in the stream. A replay survives the crash of the
service doing it: the job keeps its phase and position, and the next replica to see the lease
run out (or the restarted service) resumes from there — the projections are idempotent, so a
batch applied twice changes nothing. Running ``replay`` again while a job is active follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol

import grpc
import nats
import structlog
from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from tracklane_proto import artifact_pb2, artifact_pb2_grpc

from services.common import bus
from services.common.contract import kind_of
from services.common.events import parse
from services.common.projections import REGISTRY, Positioned, ProjectionSpec

log = structlog.get_logger()

BUCKET = "TL_REPLAY"
READ_MODELS = ("metrics", "metadata", "reporting")
LEASE_S = 30.0  # a replica doing a replay renews its claim within this (TRACKLANE_REPLAY_LEASE_S)
POLL_S = 1.0  # how often a consumer looks for a replay request
FEED_EVENTS = 500  # archived events per projection batch (progress is saved between batches): TRACKLANE_REPLAY_BATCH
SAVE_EVERY_S = 1.0  # progress (and the lease) written at most this often


@dataclass
class Job:
    """One replay of one read model, as kept in the bucket."""

    id: str
    state: str  # requested | running | live | done
    requested_at: float
    phase: str = "reset"  # while running: reset | archive | stream
    owner: str = ""
    lease_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    archive_last: int = 0  # the newest archived position when the archive phase began
    fed: int = 0  # the archived positions up to here went through the projection
    applying: int = 0  # up to here they may have: noted before each batch is applied
    archived_events: int = 0  # of them, events of the projection's kinds
    archived_points: int = 0  # scalar points among them
    archive_done_at: float = 0.0  # when the archive phase ended
    start: int = 0  # the stream position the consumer was made again at
    target: int = 0  # live: done once the consumer applied this position
    gap: list[int] = field(default_factory=list)  # [first, last] positions in neither archive nor stream
    error: str = ""  # the last error met (the job retries; the command shows it)
    takeovers: int = 0  # times a replica resumed it after the one doing it went quiet

    @property
    def underway(self) -> bool:
        """Not done yet: requested, running, or live (consuming again, not caught up)."""
        return self.state in ("requested", "running", "live")

    @property
    def active(self) -> bool:
        """Requested or running: the service's replicas do not consume."""
        return self.state in ("requested", "running")

    def claimable(self, me: str, now: float, lease_s: float = LEASE_S) -> bool:
        return self.state == "requested" or (
            self.state == "running" and (self.owner == me or now - self.lease_at > lease_s)
        )

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, data: bytes) -> Job:
        raw = json.loads(data)
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


class LostJobError(Exception):
    """Another replica took the job over (this one's lease ran out)."""


class Jobs:
    """The ``TL_REPLAY`` bucket: a job per read model, changed by compare-and-set only."""

    def __init__(self, kv: Any) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> Jobs:
        return cls(await bus.key_value(js, BUCKET, replicas))

    async def get(self, name: str) -> tuple[Job | None, int]:
        """The job of read model ``name`` and its revision (None, 0: never replayed)."""
        try:
            entry = await self.kv.get(name)
        except KeyNotFoundError:
            return None, 0
        if not entry.value:
            return None, int(entry.revision or 0)
        return Job.decode(entry.value), int(entry.revision or 0)

    async def put(self, name: str, job: Job, revision: int) -> int:
        """Writes ``job`` if the stored one is still at ``revision``; its new revision."""
        try:
            if revision == 0:
                return int(await self.kv.create(name, job.encode()))
            return int(await self.kv.update(name, job.encode(), last=revision))
        except KeyWrongLastSequenceError as exc:
            raise LostJobError(name) from exc

    async def request(self, name: str) -> Job:
        """A new replay of ``name``, or the one already under way (which is then followed)."""
        if name not in REGISTRY:
            raise ValueError(f"read model: one of {', '.join(READ_MODELS)}")
        for _ in range(10):
            job, revision = await self.get(name)
            if job is not None and job.underway:
                return job
            job = Job(id=uuid.uuid4().hex[:12], state="requested", requested_at=time.time())
            try:
                await self.put(name, job, revision)
            except LostJobError:
                continue  # someone requested one at the same moment: follow theirs
            return job
        raise RuntimeError(f"replay of {name}: the bucket keeps changing")


class ArchiveSource(Protocol):
    async def last_position(self) -> int: ...

    def read(self, start: int, stop: int) -> AsyncIterator[list[tuple[int, bytes]]]: ...


class ArtifactArchive:
    """The archive, read over the artifact service's gRPC API."""

    def __init__(self, addr: str) -> None:
        self.channel = grpc.aio.insecure_channel(addr, options=[("grpc.max_receive_message_length", 16 << 20)])
        self.stub = artifact_pb2_grpc.ArtifactServiceStub(self.channel)

    async def last_position(self) -> int:
        info = await self.stub.ArchiveInfo(artifact_pb2.ArchiveInfoRequest(), timeout=60)
        return int(info.last_position)

    async def read(self, start: int, stop: int) -> AsyncIterator[list[tuple[int, bytes]]]:
        async for chunk in self.stub.ReadArchive(artifact_pb2.ReadArchiveRequest(start=start, stop=stop)):
            yield list(zip(chunk.positions, chunk.events, strict=True))

    async def close(self) -> None:
        await self.channel.close()


async def newest_position(js: JetStreamContext, spec: ProjectionSpec) -> int:
    """The stream position of the newest event of the kinds ``spec`` takes (0: none)."""
    newest = 0
    for subject in spec.filter_subjects:
        with contextlib.suppress(NotFoundError):
            newest = max(newest, int((await js.get_last_msg(bus.STREAM, subject)).seq or 0))
    return newest


Handler = Callable[[Sequence[Positioned]], Awaitable[None]]


class Consumer:
    """A projection's consumer loop that a replay can take over (see the module's text): the
    background task of the services with a read model, in place of :func:`bus.consume`.
    ``rebuilding`` is true from a replay's request until it is done (the metadata service's
    reaper waits meanwhile: half a log says nothing of which clients are gone)."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: ProjectionSpec,
        handler: Handler,
        reset: Callable[[], Awaitable[None]],
        archive: ArchiveSource,
        *,
        batch: int = 256,
        replicas: int = 1,
        lease_s: float = LEASE_S,
        archived: Handler | None = None,
        feed_events: int = FEED_EVENTS,
    ) -> None:
        self.js, self.spec, self.handler, self.reset, self.archive = js, spec, handler, reset, archive
        # The archive's batches are cut the same way each time (by count from where the job's
        # progress was saved), so a projection may write each as one deduplicated unit.
        self.archived = archived or handler
        self.batch, self.replicas, self.lease_s, self.feed_events = batch, replicas, lease_s, feed_events
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.rebuilding = False
        self.jobs: Jobs | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        self.jobs = await Jobs.open(self.js, self.replicas)
        while not stopping.is_set():
            job, revision = await self._look()
            self.rebuilding = job is not None and job.underway
            if job is not None and job.active:
                if job.claimable(self.me, time.time(), self.lease_s):
                    await self._rebuild(job, revision, stopping)
                else:
                    await _pause(stopping, POLL_S)
                continue
            halt = asyncio.Event()
            task = asyncio.create_task(bus.consume(self.js, self.spec, self.handler, halt, batch=self.batch))
            try:
                while not task.done() and not stopping.is_set():
                    await asyncio.wait({task}, timeout=POLL_S)
                    job, revision = await self._look()
                    self.rebuilding = job is not None and job.underway
                    if job is not None and job.state == "live":
                        await self._finish(job, revision)
                    elif job is not None and job.active:
                        log.info("replay.pausing", read_model=self.spec.name, job=job.id)
                        break
            finally:
                halt.set()
                await task  # a consumer that failed fails the service, as before

    async def _look(self) -> tuple[Job | None, int]:
        assert self.jobs is not None
        try:
            return await self.jobs.get(self.spec.name)
        except (nats.errors.Error, TimeoutError) as exc:  # the server restarting: consume on
            log.warning("replay.look_failed", read_model=self.spec.name, error=repr(exc))
            return None, 0

    async def _finish(self, job: Job, revision: int) -> None:
        """Marks a live job done once the consumer applied its target."""
        assert self.jobs is not None
        try:
            info = await self.js.consumer_info(bus.STREAM, self.spec.durable)
        except NotFoundError:
            return
        floor = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
        if job.target >= job.start and floor < job.target:
            return
        job.state, job.finished_at = "done", time.time()
        with contextlib.suppress(LostJobError):
            await self.jobs.put(self.spec.name, job, revision)
            took = round(job.finished_at - job.started_at, 1)
            log.info("replay.done", read_model=self.spec.name, job=job.id, seconds=took)

    async def _rebuild(self, job: Job, revision: int, stopping: asyncio.Event) -> None:
        assert self.jobs is not None
        jobs, name = self.jobs, self.spec.name
        now = time.time()
        if job.state == "running" and job.owner != self.me:
            job.takeovers += 1
            log.warning("replay.taking_over", read_model=name, job=job.id, previous=job.owner, phase=job.phase)
        job.state, job.owner, job.lease_at = "running", self.me, now
        job.started_at = job.started_at or now
        try:
            revision = await jobs.put(name, job, revision)
        except LostJobError:
            return
        log.info("replay.started", read_model=name, job=job.id, phase=job.phase, fed=job.fed)

        async def save() -> None:
            nonlocal revision
            job.lease_at = time.time()
            revision = await jobs.put(name, job, revision)

        try:
            if job.phase == "reset":
                with contextlib.suppress(NotFoundError):
                    await self.js.delete_consumer(bus.STREAM, self.spec.durable)
                await self.reset()
                job.phase, job.fed, job.applying, job.archived_events, job.archived_points = "archive", 0, 0, 0, 0
                await save()
            if job.phase == "archive":
                if not job.archive_last:
                    job.archive_last = await self.archive.last_position()
                    await save()
                if not await self._feed(job, save, stopping):
                    return  # stopping: the next start resumes from job.fed
                info = await self.js.stream_info(bus.STREAM)
                first = int(info.state.first_seq or 1)
                if first > job.archive_last + 1:
                    job.gap = [job.archive_last + 1, first - 1]
                    log.error("replay.gap", read_model=name, first=job.gap[0], last=job.gap[1],
                              hint="these positions left the stream before they were archived")  # fmt: skip
                job.start, job.phase = max(job.archive_last + 1, first), "stream"
                job.archive_done_at = time.time()
                await save()
            if job.phase == "stream":
                try:
                    await self.js.consumer_info(bus.STREAM, self.spec.durable)
                except NotFoundError:
                    await self.js.add_consumer(bus.STREAM, bus.consumer_config(self.spec, job.start))
                job.target = await newest_position(self.js, self.spec)
                job.state, job.error = "live", ""
                await save()
                log.info("replay.live", read_model=name, job=job.id, start=job.start, target=job.target)
        except LostJobError:
            log.warning("replay.taken_over", read_model=name, job=job.id)

    async def _feed(self, job: Job, save: Callable[[], Awaitable[None]], stopping: asyncio.Event) -> bool:
        """The archive through the projection, from ``job.fed`` on; False when stopping first."""
        kinds = set(self.spec.kinds)
        pending: list[Positioned] = []
        saved = time.monotonic()

        async def apply(up_to: int) -> bool:
            """The pending batch applied (retried until it is: never skipped, as the consumer
            does), progress noted; False when stopping came first."""
            nonlocal pending, saved
            if pending and up_to > job.applying:  # new to the job: noted first (a save a batch), for a crash
                job.applying = up_to
                await save()
                saved = time.monotonic()
            else:  # fed before, by a retry or a crashed predecessor: the projection checks it
                pending = [replace(p, redelivered=True) for p in pending]
            while pending:
                try:
                    await self.archived(pending)
                    break
                except Exception as exc:
                    pending = [replace(p, redelivered=True) for p in pending]
                    log.exception("replay.batch_failed", read_model=self.spec.name, position=up_to)
                    job.error = repr(exc)[:500]
                    await save()
                    await _pause(stopping, 2.0)
                    if stopping.is_set():
                        return False
            job.fed, job.archived_events = up_to, job.archived_events + len(pending)
            job.archived_points += sum(len(p.event.scalars.values) // 8 for p in pending if p.event.HasField("scalars"))
            pending = []
            if time.monotonic() - saved >= SAVE_EVERY_S:
                await save()
                saved = time.monotonic()
            return True

        async for chunk in self.archive.read(job.fed + 1, job.archive_last + 1):
            for position, data in chunk:
                try:
                    event = parse(data)
                    if kind_of(event) in kinds:
                        pending.append(Positioned(event, position))
                except (DecodeError, ValueError, KeyError) as exc:
                    log.error("replay.bad_event", position=position, error=repr(exc))
                if len(pending) >= self.feed_events and not await apply(position):
                    return False
                if stopping.is_set():  # resumed from the last batch applied, cut the same way again
                    await save()
                    return False
        if not await apply(job.archive_last):
            return False
        await save()
        return True


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
