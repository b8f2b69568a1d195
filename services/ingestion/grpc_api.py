"""IngestService: validate, publish to JetStream, acknowledge only what JetStream persisted."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence

import grpc
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import Counter
from tracklane_proto import artifact_pb2, artifact_pb2_grpc, events_pb2, ingest_pb2, ingest_pb2_grpc

from services.common import bus, runtime
from services.common.auth import WRITE_ROLES, KeyResolver, Principal, UnauthenticatedError, bearer
from services.common.contract import (
    MAX_EVENTS_PER_BATCH,
    ValidationError,
    check_experiment_id,
    check_name,
    event_id,
    new_event,
    stamp,
    subject,
)
from services.common.events import parse
from services.common.payloads import FILE_AREAS, check_file_key
from services.ingestion.domain import validate_batch, validate_open

log = structlog.get_logger()
BATCHES = Counter("tracklane_ingest_batches_total", "Batches received", ["outcome"])
EVENTS = Counter("tracklane_ingest_events_published_total", "Events published to JetStream")
POINTS = Counter("tracklane_ingest_points_total", "Scalar points published to JetStream")


MAX_UPLOAD_BYTES = 5 * 1024**4  # 5 TiB, S3's largest object
Key = tuple[str, str]  # (workspace, experiment id)


class IngestApi(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        keys: KeyResolver,
        artifacts: artifact_pb2_grpc.ArtifactServiceStub | None = None,
        alive_interval_s: float = 30.0,
        sequencer: bus.Sequencer | None = None,
    ) -> None:
        self.sequencer = sequencer
        self.nc = nc
        self.js = js
        self.keys = keys
        self.artifacts = artifacts
        self.alive_interval_s = alive_interval_s
        # (workspace, experiment) pairs known to exist; bounded LRU.
        self._known: OrderedDict[Key, None] = OrderedDict()
        # The open streams of this replica, per experiment: where control messages go.
        self._streams: dict[Key, set[asyncio.Queue[ingest_pb2.ServerMessage | None]]] = {}
        self._alive_at: dict[Key, float] = {}

    async def _principal(self, context: grpc.aio.ServicerContext) -> Principal:
        md = dict(context.invocation_metadata() or ())
        try:
            principal = await self.keys.resolve(bearer(md.get("authorization")))
        except UnauthenticatedError as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise  # unreachable: abort raises
        except grpc.aio.AioRpcError as exc:  # the metadata service is down or slow: retry later
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"cannot check the API key now ({exc.code().name}), retry")
            raise  # unreachable: abort raises
        if principal.role not in WRITE_ROLES:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"a {principal.role} key cannot write")
        return principal

    async def _exists(self, workspace: str, experiment_id: str) -> bool:
        key = (workspace, experiment_id)
        if key in self._known:
            self._known.move_to_end(key)
            return True
        try:
            last = await self.js.get_last_msg(bus.STREAM, subject(workspace, experiment_id, "lifecycle"))
        except NotFoundError:
            return False
        if last.data is not None and parse(last.data).WhichOneof("payload") == "experiment_cleared":
            return False  # cleared for good: its id takes nothing more
        self._remember(key)
        return True

    async def _owner(self, experiment_id: str) -> str | None:
        """The workspace an experiment id was first opened in (None: never opened; its history left
        the stream: the first that remains)."""
        try:
            first = await self.js.get_msg(
                bus.STREAM, seq=1, next=True, subject=subject("*", experiment_id, "lifecycle")
            )
        except NotFoundError:
            return None
        return str(first.subject).split(".")[2] if first.subject else None

    async def watch_lifecycle(self) -> None:
        """Forgets a cleared experiment at once, and forwards stop requests to the experiment's
        open streams. Every replica gets every such event: a core NATS subscription on the
        stream's subjects fans out. (A stream that opens later finds a pending stop on the log:
        see ``_pending_stop``.)"""

        async def on_event(msg: Msg) -> None:
            event = parse(msg.data)
            kind = event.WhichOneof("payload")
            key = (event.workspace, event.experiment_id)
            if kind == "experiment_cleared":
                self._known.pop(key, None)
            elif kind == "stop_requested":
                self._send_control(key, _stop(event))

        await self.nc.subscribe("tl.ev.*.*.lifecycle", cb=on_event)
        await self.nc.subscribe("tl.ev.*.*.control", cb=on_event)

    def _send_control(self, key: Key, message: ingest_pb2.ServerMessage) -> None:
        for queue in self._streams.get(key, ()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)

    async def _pending_stop(self, key: Key) -> ingest_pb2.ServerMessage | None:
        """The stop request on the log, if one came for this experiment."""
        try:
            last = await self.js.get_last_msg(bus.STREAM, subject(*key, "control"))
        except NotFoundError:
            return None
        event = parse(last.data) if last.data else None
        return _stop(event) if event is not None and event.WhichOneof("payload") == "stop_requested" else None

    async def _alive(self, key: Key) -> None:
        """Publishes that the client is alive, at most once per interval per experiment."""
        now = time.time()
        if now - self._alive_at.get(key, 0.0) < self.alive_interval_s:
            return
        self._alive_at[key] = now
        if len(self._alive_at) > 100_000:
            self._alive_at.clear()
        bucket = int(now // self.alive_interval_s)
        event = new_event(
            key[0], key[1], f"{key[1]}.alive.{bucket}", server_time=now, client_alive=events_pb2.ClientAlive()
        )
        await bus.publish_all(self.js, self._outgoing([event]))

    async def PresignUpload(  # noqa: N802
        self, request: ingest_pb2.UploadRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.UploadGrant:
        principal = await self._principal(context)
        try:
            check_experiment_id(request.experiment_id)
            check_file_key("key", request.key, FILE_AREAS)
            check_name("content_type", request.content_type, required=False)
            if request.size > MAX_UPLOAD_BYTES:
                raise ValidationError("size", f"is {request.size} bytes; the limit is {MAX_UPLOAD_BYTES}")
            if not await self._exists(principal.workspace, request.experiment_id):
                raise ValidationError("experiment_id", f"unknown experiment {request.experiment_id}; open it first")
        except ValidationError as exc:
            await _invalid(context, exc)
        if self.artifacts is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "no artifact service is configured")
        assert self.artifacts is not None
        url: artifact_pb2.PresignedUrl = await self.artifacts.PresignUpload(
            artifact_pb2.PresignUploadRequest(
                workspace=principal.workspace,
                experiment_id=request.experiment_id,
                key=request.key,
                size=request.size,
                content_type=request.content_type,
            ),
            timeout=10,
        )
        return ingest_pb2.UploadGrant(url=url.url, method=url.method, expires_at=url.expires_at)

    def _remember(self, key: tuple[str, str]) -> None:
        self._known[key] = None
        if len(self._known) > 100_000:
            self._known.popitem(last=False)

    async def OpenExperiment(  # noqa: N802
        self, request: ingest_pb2.OpenExperimentRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.OpenExperimentResponse:
        principal = await self._principal(context)
        try:
            validate_open(request)
        except ValidationError as exc:
            await _invalid(context, exc)
        existed = await self._exists(principal.workspace, request.experiment_id)
        if not existed and await self._owner(request.experiment_id) not in (None, principal.workspace):
            # Ids are global: another workspace's experiment is not this key's to write to (its
            # events would change nothing there, and nothing would show here).
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"experiment_id: {request.experiment_id} belongs to another workspace; open a new experiment",
            )
        now = time.time()
        event = new_event(
            principal.workspace,
            request.experiment_id,
            event_id(request.experiment_id, 0),
            client_time=request.started_at,
            server_time=now,
            experiment_created=events_pb2.ExperimentCreated(
                project=request.project,
                name=request.name,
                tags=request.tags,
                user=principal.user or request.user,  # a person's key names them; else the OS user
                started_at=request.started_at or now,
            ),
        )
        if not existed:
            await self._publish(context, [event])
            self._remember((principal.workspace, request.experiment_id))
        return ingest_pb2.OpenExperimentResponse(
            experiment_id=request.experiment_id, workspace=principal.workspace, created=not existed
        )

    async def Append(  # noqa: N802
        self, request: ingest_pb2.EventBatch, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.AppendResponse:
        principal = await self._principal(context)
        try:
            if request.server_sequenced:
                await self._sequence(principal, request)
            await self._check(principal, request)
        except ValidationError as exc:
            await _invalid(context, exc)
        stream_seq = await self._publish(context, self._envelopes(principal, request))
        return ingest_pb2.AppendResponse(
            last_seq=request.events[-1].seq, events=len(request.events), stream_seq=stream_seq
        )

    async def _sequence(self, principal: Principal, batch: ingest_pb2.EventBatch) -> None:
        """Gives a server-sequenced batch its sequences (after checking it has none)."""
        if self.sequencer is None:
            raise ValidationError("server_sequenced", "this ingestion service assigns no sequences")
        for i, event in enumerate(batch.events):
            if event.seq:
                raise ValidationError(f"events[{i}].seq", "must be 0 in a server-sequenced batch")
        if not batch.events or len(batch.events) > MAX_EVENTS_PER_BATCH:
            return  # validate_batch says why
        check_experiment_id(batch.experiment_id)
        if not await self._exists(principal.workspace, batch.experiment_id):
            raise ValidationError("experiment_id", f"unknown experiment {batch.experiment_id}; open it first")
        first = await self.sequencer.reserve(principal.workspace, batch.experiment_id, len(batch.events))
        for i, event in enumerate(batch.events):
            event.seq = first + i

    async def Stream(  # noqa: N802
        self, request_iterator: AsyncIterator[ingest_pb2.ClientMessage], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ingest_pb2.ServerMessage]:
        principal = await self._principal(context)
        out: asyncio.Queue[ingest_pb2.ServerMessage | None] = asyncio.Queue(maxsize=1024)
        registered: set[Key] = set()

        async def subscribe(experiment_id: str) -> bool:
            key = (principal.workspace, experiment_id)
            if key in registered:
                return True
            if not await self._exists(*key):
                return False
            registered.add(key)
            self._streams.setdefault(key, set()).add(out)
            stop = await self._pending_stop(key)
            if stop is not None:
                await out.put(stop)
            return True

        async def read() -> None:
            try:
                async for message in request_iterator:
                    which = message.WhichOneof("msg")
                    if which == "heartbeat":
                        if await subscribe(message.heartbeat.experiment_id):
                            await self._alive((principal.workspace, message.heartbeat.experiment_id))
                        continue
                    if which != "batch":
                        continue
                    batch = message.batch
                    try:
                        await self._check(principal, batch)
                    except ValidationError as exc:
                        BATCHES.labels("rejected").inc()
                        await out.put(_rejected(batch, exc))
                        continue
                    await subscribe(batch.experiment_id)
                    try:
                        outgoing = self._outgoing(self._envelopes(principal, batch))
                    except ValidationError as exc:
                        BATCHES.labels("rejected").inc()
                        await out.put(_rejected(batch, exc))
                        continue
                    await bus.publish_all(self.js, outgoing)
                    self._count(batch.events)
                    await out.put(
                        ingest_pb2.ServerMessage(
                            ack=ingest_pb2.BatchAck(experiment_id=batch.experiment_id, last_seq=batch.events[-1].seq)
                        )
                    )
            finally:
                await out.put(None)

        reader = asyncio.create_task(read())
        try:
            while (item := await out.get()) is not None:
                yield item
            error = reader.exception() if reader.done() else None
            if isinstance(error, runtime.MalformedRequestError):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            if error is not None:
                # JetStream did not persist a batch: end the stream; the client resends what
                # was not acknowledged.
                log.warning("ingest.stream_failed", error=repr(error))
                await _log_refused(context, error)
        finally:
            reader.cancel()
            for key in registered:
                streams = self._streams.get(key, set())
                streams.discard(out)
                if not streams:
                    self._streams.pop(key, None)

    async def _check(self, principal: Principal, batch: ingest_pb2.EventBatch) -> None:
        validate_batch(batch)
        if not await self._exists(principal.workspace, batch.experiment_id):
            raise ValidationError("experiment_id", f"unknown experiment {batch.experiment_id}; open it first")

    def _envelopes(self, principal: Principal, batch: ingest_pb2.EventBatch) -> list[events_pb2.Event]:
        now = time.time()
        out = []
        for event in batch.events:
            envelope = events_pb2.Event()
            envelope.CopyFrom(event)
            out.append(stamp(envelope, principal.workspace, batch.experiment_id, now))
        return out

    def _outgoing(self, events: list[events_pb2.Event]) -> list[bus.Outgoing]:
        """Serializes; raises ValidationError for an event larger than the server's max payload
        (it could never be published, so retrying it would only loop)."""
        out = []
        for i, e in enumerate(events):
            outgoing = bus.Outgoing.of(e)
            if len(outgoing.data) > self.nc.max_payload - 1024:
                raise ValidationError(
                    f"events[{i}]",
                    f"is {len(outgoing.data)} bytes; the event log takes at most {self.nc.max_payload - 1024}",
                )
            out.append(outgoing)
        return out

    async def _publish(self, context: grpc.aio.ServicerContext, events: list[events_pb2.Event]) -> int:
        """Publishes; the highest stream sequence of the events."""
        try:
            outgoing = self._outgoing(events)
        except ValidationError as exc:
            await _invalid(context, exc)
        try:
            stream_seq = await bus.publish_all(self.js, outgoing)
        except Exception as exc:
            log.warning("ingest.publish_failed", error=repr(exc))
            await _log_refused(context, exc)
        self._count(events)
        return stream_seq

    @staticmethod
    def _count(events: Sequence[events_pb2.Event]) -> None:
        BATCHES.labels("accepted").inc()
        EVENTS.inc(len(events))
        POINTS.inc(sum(len(e.scalars.values) // 8 for e in events if e.WhichOneof("payload") == "scalars"))


def _stop(event: events_pb2.Event) -> ingest_pb2.ServerMessage:
    return ingest_pb2.ServerMessage(
        control=ingest_pb2.Control(experiment_id=event.experiment_id, action="stop", reason=event.stop_requested.reason)
    )


def _rejected(batch: ingest_pb2.EventBatch, exc: ValidationError) -> ingest_pb2.ServerMessage:
    seqs = [e.seq for e in batch.events] or [0]
    return ingest_pb2.ServerMessage(
        rejected=ingest_pb2.BatchRejected(
            experiment_id=batch.experiment_id,
            first_seq=seqs[0],
            last_seq=seqs[-1],
            code="INVALID_ARGUMENT",
            field=exc.field,
            message=str(exc),
        )
    )


async def _log_refused(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    """A batch the event log did not take: RESOURCE_EXHAUSTED when the log is full (an operator
    must grow or trim it), UNAVAILABLE when it cannot be reached. Either way nothing of the batch
    was acknowledged: the client keeps it and sends it again."""
    if bus.log_full(exc):
        BATCHES.labels("log_full").inc()
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "the event log is full: this batch was not kept; the client keeps it and retries "
            "(an operator must grow the JetStream store or its stream's limits)",
        )
    await context.abort(grpc.StatusCode.UNAVAILABLE, "event log unavailable, retry")


async def _invalid(context: grpc.aio.ServicerContext, exc: ValidationError) -> None:
    BATCHES.labels("rejected").inc()
    context.set_trailing_metadata((("tl-field", exc.field),))
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
