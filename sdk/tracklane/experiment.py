"""The experiment handle a training script holds."""

from __future__ import annotations

import array
import atexit
import getpass
import logging
import math
import re
import sys
import threading
import time
import uuid
import weakref
from types import TracebackType

from tracklane import _config
from tracklane._sender import Sender
from tracklane.pb import events_pb2, ingest_pb2

log = logging.getLogger("tracklane")

MAX_NAME = 255
MAX_ITERATION = 2**63 - 1
FLUSH_INTERVAL_S = 0.1
# 30,000 points are ~840 KB on the wire: under NATS's default 1 MB message limit.
FLUSH_POINTS = 30_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STATUS = {
    "running": events_pb2.EXPERIMENT_STATUS_RUNNING,
    "completed": events_pb2.EXPERIMENT_STATUS_COMPLETED,
    "failed": events_pb2.EXPERIMENT_STATUS_FAILED,
    "stopped": events_pb2.EXPERIMENT_STATUS_STOPPED,
}


def _check_name(kind: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{kind} must be a non-empty string")
    if len(value) > MAX_NAME:
        raise ValueError(f"{kind} is {len(value)} characters long; the limit is {MAX_NAME}")
    if _CONTROL.search(value):
        raise ValueError(f"{kind} must not contain control characters")


class Experiment:
    """One run. Logging calls only append to an in-memory columnar buffer; a background thread
    ships it every 100 ms (or sooner when it is large) and never makes training wait."""

    def __init__(
        self,
        project: str,
        name: str,
        tags: list[str] | None = None,
        *,
        server: str | None = None,
        api_key: str | None = None,
        flush_timeout: float = 60.0,
    ) -> None:
        _check_name("project", project)
        if any(not p.strip() for p in project.split("/")):
            raise ValueError("project: nested projects are 'a/b/c' with no empty part")
        _check_name("name", name)
        for tag in tags or []:
            _check_name("tag", tag)
        cfg = _config.resolve(server, api_key)
        self.id = uuid.uuid4().hex
        self.project = project
        self.name = name
        self.server = cfg.server
        self.flush_timeout = flush_timeout
        self.closed = False
        self.status = "running"
        self._seq = 0
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], int] = {}
        self._series_list: list[tuple[str, str]] = []
        self._reset_buffer()
        self._nonfinite_warned: set[tuple[str, str]] = set()
        self.nonfinite_dropped = 0
        self._sender = Sender(
            cfg.server,
            cfg.api_key,
            ingest_pb2.OpenExperimentRequest(
                experiment_id=self.id,
                project=project,
                name=name,
                tags=list(tags or []),
                user=getpass.getuser(),
                started_at=time.time(),
            ),
        )
        self._wake = threading.Event()
        self._stop_flusher = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name=f"tracklane-flush-{self.id[:8]}", daemon=True)
        self._flusher.start()
        _live.add(self)

    def __repr__(self) -> str:
        return f"<tracklane.Experiment id={self.id} project={self.project!r} name={self.name!r} status={self.status}>"

    # -- logging -----------------------------------------------------------------------------
    def log_scalar(self, metric: str, variant: str, value: float, iteration: int) -> None:
        """Records one point of the series ``metric``/``variant`` (ClearML's title/series).

        Raises ValueError for a bad name or an iteration outside 0..2**63-1. A NaN or infinite
        value is not sent (the server refuses them for now); it is counted in
        ``nonfinite_dropped`` and warned about once per series.
        """
        key = (metric, variant)
        index = self._series.get(key)
        if index is None:
            index = self._add_series(key)
        if iteration.__class__ is not int:
            iteration = int(iteration)
        if not 0 <= iteration <= MAX_ITERATION:
            raise ValueError(f"iteration {iteration} is outside 0..2**63-1")
        value = float(value)
        if not math.isfinite(value):
            self._drop_nonfinite(key, value)
            return
        with self._lock:
            self._b_index.append(index)
            self._b_iter.append(iteration)
            self._b_value.append(value)
            self._b_ts.append(time.time())
            n = len(self._b_value)
        if n >= FLUSH_POINTS:
            self._wake.set()

    def log_scalars(self, values: dict[str, float], iteration: int, variant: str | None = None) -> None:
        """Logs several metrics at one iteration; each value's variant is ``variant`` or its key."""
        for metric, value in values.items():
            self.log_scalar(metric, variant or metric, value, iteration)

    def _add_series(self, key: tuple[str, str]) -> int:
        _check_name("metric", key[0])
        _check_name("variant", key[1])
        with self._lock:
            index = self._series.setdefault(key, len(self._series_list))
            if index == len(self._series_list):
                self._series_list.append(key)
        return index

    def _drop_nonfinite(self, key: tuple[str, str], value: float) -> None:
        self.nonfinite_dropped += 1
        if key not in self._nonfinite_warned:
            self._nonfinite_warned.add(key)
            log.warning("tracklane: %s/%s got %s; non-finite values are not sent", key[0], key[1], value)

    # -- shipping ----------------------------------------------------------------------------
    def _reset_buffer(self) -> None:
        self._b_index = array.array("I")
        self._b_iter = array.array("q")
        self._b_value = array.array("d")
        self._b_ts = array.array("d")

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def flush(self) -> None:
        """Moves what is buffered to the sender (it still travels in the background)."""
        while True:
            with self._lock:
                if not self._b_value:
                    return
                index, its, values, ts = self._b_index, self._b_iter, self._b_value, self._b_ts
                self._reset_buffer()
                series = list(self._series_list)
                if len(values) > FLUSH_POINTS:  # keep each event under the size limit
                    self._b_index.extend(index[FLUSH_POINTS:])
                    self._b_iter.extend(its[FLUSH_POINTS:])
                    self._b_value.extend(values[FLUSH_POINTS:])
                    self._b_ts.extend(ts[FLUSH_POINTS:])
                    for column in (index, its, values, ts):
                        del column[FLUSH_POINTS:]
                seq = self._next_seq()
            self._ship(seq, series, index, its, values, ts)

    def _ship(
        self,
        seq: int,
        series: list[tuple[str, str]],
        index: array.array[int],
        its: array.array[int],
        values: array.array[float],
        ts: array.array[float],
    ) -> None:
        if sys.byteorder != "little":  # the wire is little-endian
            for column in (index, its, values, ts):
                column.byteswap()
        event = events_pb2.Event(
            seq=seq,
            client_time=time.time(),
            scalars=events_pb2.ScalarBatch(
                series=[events_pb2.SeriesKey(metric=m, variant=v) for m, v in series],
                series_index=index.tobytes(),
                iterations=its.tobytes(),
                values=values.tobytes(),
                timestamps=ts.tobytes(),
            ),
        )
        self._sender.enqueue(ingest_pb2.EventBatch(experiment_id=self.id, events=[event]))

    def _flush_loop(self) -> None:
        while not self._stop_flusher.is_set():
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            self.flush()

    # -- ending ------------------------------------------------------------------------------
    def close(self, status: str = "completed", reason: str = "") -> bool:
        """Flushes, marks the experiment ``status`` and waits (up to ``flush_timeout`` s) until
        the server acknowledged everything. Returns False if something could not be delivered."""
        if self.closed:
            return True
        if status not in _STATUS:
            raise ValueError(f"status must be one of {', '.join(_STATUS)}")
        self.closed = True
        self._stop_flusher.set()
        self._wake.set()
        self._flusher.join()
        self.flush()
        with self._lock:
            seq = self._next_seq()
        self._sender.enqueue(
            ingest_pb2.EventBatch(
                experiment_id=self.id,
                events=[
                    events_pb2.Event(
                        seq=seq,
                        client_time=time.time(),
                        status_changed=events_pb2.StatusChanged(status=_STATUS[status], reason=reason, at=time.time()),
                    )
                ],
            )
        )
        delivered = self._sender.close(self.flush_timeout)
        self.status = status
        _live.discard(self)
        if not delivered:
            log.warning(
                "tracklane: %d batches of experiment %s were not acknowledged by %s",
                self._sender.pending,
                self.id,
                self.server,
            )
        return delivered

    def __enter__(self) -> Experiment:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("stopped", "KeyboardInterrupt")
        else:
            self.close("failed", f"{exc_type.__name__}: {exc}"[:4096])


_live: weakref.WeakSet[Experiment] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for exp in list(_live):
        exp.close("completed")
