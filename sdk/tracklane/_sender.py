"""The background sender: one bidirectional gRPC stream per experiment.

Batches wait in ``pending`` until the server acknowledges them (after JetStream persisted
them). When the stream breaks, a new one resends every unacknowledged batch in order; the
server and projections drop the duplicates by event id. The training thread never waits on any
of this: it only appends to a buffer.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator

import grpc

from tracklane.pb import ingest_pb2, ingest_pb2_grpc

log = logging.getLogger("tracklane")

HEARTBEAT_S = 5.0
MAX_PENDING_BYTES = 512 * 1024 * 1024


class Sender:
    """Owns the channel, the open call and the unacknowledged batches of one experiment."""

    def __init__(
        self,
        server: str,
        api_key: str,
        open_request: ingest_pb2.OpenExperimentRequest,
        on_control: Callable[[ingest_pb2.Control], None] | None = None,
    ) -> None:
        self.server = server
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self.open_request = open_request
        self.experiment_id = open_request.experiment_id
        self.on_control = on_control
        self._cond = threading.Condition()
        self._pending: collections.deque[ingest_pb2.EventBatch] = collections.deque()
        self._pending_bytes = 0
        self._closing = False
        self._stopped = False
        self.acked_seq = 0
        self.dropped_batches = 0
        self.rejected: list[ingest_pb2.BatchRejected] = []
        self.opened = threading.Event()
        self._call: grpc.Future | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"tracklane-sender-{self.experiment_id[:8]}", daemon=True
        )
        self._thread.start()

    # -- called from the training side -------------------------------------------------------
    def enqueue(self, batch: ingest_pb2.EventBatch) -> None:
        size = batch.ByteSize()
        with self._cond:
            # Memory stays bounded: past the limit the oldest unacknowledged batch is dropped
            # (and counted) rather than blocking training.
            while self._pending and self._pending_bytes + size > MAX_PENDING_BYTES:
                old = self._pending.popleft()
                self._pending_bytes -= old.ByteSize()
                self.dropped_batches += 1
            self._pending.append(batch)
            self._pending_bytes += size
            self._cond.notify_all()

    def close(self, timeout: float) -> bool:
        """Waits up to ``timeout`` s for every batch to be acknowledged; True if all were."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            while self._pending and time.monotonic() < deadline:
                self._cond.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            flushed = not self._pending
            self._stopped = True
            self._cond.notify_all()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout=5)
        return flushed

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    # -- the sender thread -------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.2
        channel = grpc.insecure_channel(
            self.server,
            options=[("grpc.max_send_message_length", 32 * 1024 * 1024), ("grpc.enable_retries", 0)],
        )
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        try:
            while not self._stopped:
                try:
                    if not self.opened.is_set():
                        stub.OpenExperiment(self.open_request, metadata=self._metadata, timeout=10)
                        self.opened.set()
                    self._stream(stub)
                    backoff = 0.2
                except grpc.RpcError as exc:
                    code = exc.code() if isinstance(exc, grpc.Call) else None
                    if self._stopped:
                        break
                    if code in (
                        grpc.StatusCode.UNAUTHENTICATED,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        grpc.StatusCode.PERMISSION_DENIED,
                    ):
                        log.error(
                            "tracklane: the server refused this experiment (%s): %s",
                            code,
                            exc.details() if isinstance(exc, grpc.Call) else exc,
                        )
                        with self._cond:
                            self._pending.clear()
                            self._pending_bytes = 0
                            self._stopped = True
                            self._cond.notify_all()
                        break
                    log.debug("tracklane: stream to %s broke (%s); retrying in %.1fs", self.server, code, backoff)
                    with self._cond:
                        self._cond.wait(timeout=backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            channel.close()

    def _stream(self, stub: ingest_pb2_grpc.IngestServiceStub) -> None:
        call = stub.Stream(self._requests(), metadata=self._metadata)
        self._call = call
        for message in call:
            which = message.WhichOneof("msg")
            if which == "ack":
                self._acknowledge(message.ack.last_seq)
            elif which == "rejected":
                rej = message.rejected
                log.error("tracklane: server rejected events %d..%d: %s", rej.first_seq, rej.last_seq, rej.message)
                self.rejected.append(rej)
                self._acknowledge(rej.last_seq)
            elif which == "control" and self.on_control is not None:
                self.on_control(message.control)
            if self._stopped:
                break

    def _acknowledge(self, last_seq: int) -> None:
        with self._cond:
            while self._pending and self._pending[0].events[-1].seq <= last_seq:
                done = self._pending.popleft()
                self._pending_bytes -= done.ByteSize()
            self.acked_seq = max(self.acked_seq, last_seq)
            self._cond.notify_all()

    def _requests(self) -> Iterator[ingest_pb2.ClientMessage]:
        """Yields every pending batch once per stream, in order, then new ones as they come."""
        sent_upto = 0
        yield ingest_pb2.ClientMessage(heartbeat=ingest_pb2.Heartbeat(experiment_id=self.experiment_id))
        last_beat = time.monotonic()
        while True:
            with self._cond:
                batch = next((b for b in self._pending if b.events[0].seq > sent_upto), None)
                if batch is None:
                    if self._stopped:
                        return
                    self._cond.wait(timeout=HEARTBEAT_S)
            if batch is not None:
                sent_upto = batch.events[-1].seq
                yield ingest_pb2.ClientMessage(batch=batch)
            elif time.monotonic() - last_beat >= HEARTBEAT_S:
                last_beat = time.monotonic()
                yield ingest_pb2.ClientMessage(heartbeat=ingest_pb2.Heartbeat(experiment_id=self.experiment_id))
