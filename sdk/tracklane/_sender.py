"""The background sender: one bidirectional gRPC stream per experiment.

Batches wait in ``pending`` until the server acknowledges them (after JetStream persisted
them). When the stream breaks, a new one resends every unacknowledged batch in order; the
server and projections drop the duplicates by event id. The training thread never waits on any
of this: it only appends to a buffer.

Memory stays bounded: past ``memory_limit`` bytes of unacknowledged batches, newer batches spill
to an on-disk journal, and are read back in order as the server catches up. Whatever is still
undelivered when ``close`` gives up is written to an offline directory that ``tracklane sync``
uploads later.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
from tracklane_proto import ingest_pb2, ingest_pb2_grpc

from tracklane import _channel
from tracklane._journal import Journal

log = logging.getLogger("tracklane")

# Seconds between heartbeats of an idle stream (the server's timeout must be well above it).
HEARTBEAT_S = float(os.environ.get("TRACKLANE_HEARTBEAT_INTERVAL") or 5.0)
MEMORY_LIMIT = 64 * 1024 * 1024
SPILL_LIMIT = 10 * 1024**3
OPEN_FILE = "open.pb"
EVENTS_FILE = "events.tlj"
SPILL_FILE = "spill.tlj"


class Sender:
    """Owns the channel, the open call and the unacknowledged batches of one experiment."""

    def __init__(
        self,
        server: str,
        api_key: str,
        open_request: ingest_pb2.OpenExperimentRequest,
        on_control: Callable[[ingest_pb2.Control], None] | None = None,
        *,
        spill_dir: Path,
        memory_limit: int = MEMORY_LIMIT,
        spill_limit: int = SPILL_LIMIT,
    ) -> None:
        self.server = server
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self.open_request = open_request
        self.experiment_id = open_request.experiment_id
        self.on_control = on_control
        self.spill_dir = spill_dir
        self.memory_limit = memory_limit
        self.spill_limit = spill_limit
        self._cond = threading.Condition()
        self._pending: collections.deque[ingest_pb2.EventBatch] = collections.deque()
        self._pending_bytes = 0
        self._spill: Journal | None = None  # opened on first use
        self.spilled_batches = 0
        self._closing = False
        self._stopped = False
        self.acked_seq = 0
        self.dropped_batches = 0
        self.rejected: list[ingest_pb2.BatchRejected] = []
        self.opened = threading.Event()
        self.saved_to: Path | None = None
        self._call: grpc.Future | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"tracklane-sender-{self.experiment_id[:8]}", daemon=True
        )
        self._thread.start()

    # -- called from the training side -------------------------------------------------------
    def enqueue(self, batch: ingest_pb2.EventBatch) -> None:
        size = batch.ByteSize()
        with self._cond:
            spilled = self._spill is not None and self._spill.records > 0
            if not spilled and self._pending_bytes + size <= self.memory_limit:
                self._pending.append(batch)
                self._pending_bytes += size
                self._cond.notify_all()
                return
            # The server is behind: newer batches wait on disk, in order, behind those in memory.
            if self._spill is None:
                self._spill = Journal(self.spill_dir / SPILL_FILE)
                (self.spill_dir / OPEN_FILE).write_bytes(self.open_request.SerializeToString())
                log.warning("tracklane: the server is behind; spilling to %s", self.spill_dir)
            if self._spill.bytes + size > self.spill_limit:
                self.dropped_batches += 1  # the disk budget is spent too: never block training
                if self.dropped_batches == 1:
                    log.error("tracklane: the spill journal is full (%d bytes); dropping new batches", self.spill_limit)
                return
            self._spill.append(batch.SerializeToString())
            self.spilled_batches += 1
            self._cond.notify_all()

    def _refill(self) -> None:
        """Moves spilled batches back to memory while there is room (caller holds the lock)."""
        spill = self._spill
        while spill is not None and spill.records and self._pending_bytes < self.memory_limit // 2:
            data = spill.read()
            if data is None:
                break
            batch = ingest_pb2.EventBatch.FromString(data)
            self._pending.append(batch)
            self._pending_bytes += len(data)

    def close(self, timeout: float) -> bool:
        """Waits up to ``timeout`` s for every batch to be acknowledged; True if all were.
        Otherwise what is left is saved for ``tracklane sync`` (see :attr:`saved_to`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            while self._backlog() and time.monotonic() < deadline:
                self._cond.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            flushed = not self._backlog()
            self._stopped = True
            self._cond.notify_all()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout=5)
        with self._cond:
            self.saved_to = None if flushed else self._save_for_sync()
            if self._spill is not None:
                self._spill.close(remove=True)
                if flushed:
                    (self.spill_dir / OPEN_FILE).unlink(missing_ok=True)
                    with contextlib.suppress(OSError):
                        self.spill_dir.rmdir()
        return flushed

    def _backlog(self) -> int:
        return len(self._pending) + (self._spill.records if self._spill is not None else 0)

    def _save_for_sync(self) -> Path:
        """Writes the open request and every undelivered batch, oldest first, where
        ``tracklane sync`` finds them."""
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        (self.spill_dir / OPEN_FILE).write_bytes(self.open_request.SerializeToString())
        out = Journal(self.spill_dir / EVENTS_FILE)
        for batch in self._pending:
            out.append(batch.SerializeToString())
        while self._spill is not None and (data := self._spill.read()) is not None:
            out.append(data)
        out.flush(fsync=True)
        out.close()
        return self.spill_dir

    @property
    def pending(self) -> int:
        """Batches not acknowledged yet (in memory and on disk)."""
        with self._cond:
            return self._backlog()

    # -- the sender thread -------------------------------------------------------------------
    def _run(self) -> None:
        backoff, full_said = 0.2, False
        channel = _channel.channel(
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
                    backoff, full_said = 0.2, False
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
                            if self._spill is not None:
                                while self._spill.read() is not None:
                                    pass
                            self._stopped = True
                            self._cond.notify_all()
                        break
                    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and not full_said:  # once per outage
                        full_said = True
                        log.warning(
                            "tracklane: the server's event log is full; keeping %d batches and retrying (%s)",
                            self.pending,
                            exc.details() if isinstance(exc, grpc.Call) else exc,
                        )
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
            self._refill()
            self._cond.notify_all()

    def _requests(self) -> Iterator[ingest_pb2.ClientMessage]:
        """Yields every pending batch once per stream, in order, then new ones as they come."""
        sent_upto = 0
        yield ingest_pb2.ClientMessage(heartbeat=ingest_pb2.Heartbeat(experiment_id=self.experiment_id))
        last_beat = time.monotonic()
        while True:
            with self._cond:
                batch = next((b for b in self._pending if b.events[0].seq > sent_upto), None)
                if batch is None and self._spill is not None and self._spill.records:
                    self._refill()
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


class OfflineWriter:
    """The sender of ``TRACKLANE_OFFLINE=1``: every batch goes to a journal in ``directory``,
    beside the open request and the files, for ``tracklane sync DIR`` to upload later."""

    def __init__(self, directory: Path, open_request: ingest_pb2.OpenExperimentRequest) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / OPEN_FILE).write_bytes(open_request.SerializeToString())
        self._journal = Journal(directory / EVENTS_FILE)
        self._lock = threading.Lock()
        self.opened = threading.Event()
        self.saved_to: Path | None = directory
        self.dropped_batches = 0
        self.rejected: list[ingest_pb2.BatchRejected] = []

    def enqueue(self, batch: ingest_pb2.EventBatch) -> None:
        with self._lock:
            self._journal.append(batch.SerializeToString())

    def close(self, timeout: float) -> bool:
        with self._lock:
            self._journal.flush(fsync=True)
            self._journal.close()
        return True

    @property
    def pending(self) -> int:
        return 0
