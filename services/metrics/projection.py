"""Scalar, console, plot and debug-sample events -> ClickHouse rows. Idempotent: each scalar or
console event is one insert block whose deduplication token is the event id, so a redelivered
event adds nothing (a replay from the archive inserts many events at once, under a digest of
their ids); plots and samples replace by (iteration, seq). An event that may have been applied
before (redelivered, or in a batch a resumed replay feeds again) is settled after its insert:
the store checks its rows are there once, since a crash inside an insert can leave the token
without them (``services.metrics.store``); such an event older than a clear of its experiment
is skipped."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from functools import partial
from typing import TypeVar

import structlog
from prometheus_client import Counter

from services.common.events import ConsoleColumns, ScalarColumns
from services.common.projections import Positioned
from services.metrics.store import ConsoleEvent, ScalarEvent, ScalarStore

log = structlog.get_logger()
POINTS = Counter("tracklane_metrics_points_projected_total", "Scalar points written to ClickHouse (incl. deduplicated)")
EVENTS = Counter("tracklane_metrics_events_projected_total", "Scalar events handled")
RESTORED = Counter(
    "tracklane_metrics_rows_restored_total",
    "Points and console lines of a redelivered event stored again: its insert's token had outlived its rows",
)

T = TypeVar("T")


class ScalarProjection:
    """Scalars, console lines, plots and debug samples into ClickHouse; ``experiment_cleared``
    deletes an experiment's rows. Its consumer and kinds: ``REGISTRY["metrics"]``."""

    def __init__(self, store: ScalarStore, executor: Executor) -> None:
        self.store = store
        self.executor = executor

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def handle(self, batch: Sequence[Positioned]) -> None:
        """A batch from the stream: each scalar or console event its own insert, deduplicated by
        its id (a redelivery may cut the log into other batches)."""
        await self._apply(batch, whole=False)

    async def handle_archived(self, batch: Sequence[Positioned]) -> None:
        """A batch of a replay from the archive, which is cut the same way each time it is fed
        (a resumed replay starts again at a batch's edge): the scalar and the console events
        between two clears go in as one insert each, deduplicated by a digest of their ids —
        a small event's insert costs as much as a large one's."""
        await self._apply(batch, whole=True)

    async def _apply(self, batch: Sequence[Positioned], whole: bool) -> None:
        # In log order: inserts, and the deletes of cleared experiments. A batch seen before (in
        # part) goes in an event at a time, each settled after its insert: a group's digest may
        # be all that is left of an earlier try.
        seen = {(i.event.workspace, i.event.experiment_id) for i in batch if i.redelivered}
        whole = whole and not seen
        # An event delivered again may be older than a clear of its experiment applied since
        # (JetStream redelivers after newer messages): what the clear deleted stays deleted.
        cleared = await self._call(partial(self.store.cleared, seen)) if seen else {}
        writes: list[Callable[[], int | None]] = []
        settles: list[Callable[[], int]] = []
        scalars: list[ScalarEvent] = []
        console: list[ConsoleEvent] = []
        points = events = 0

        def grouped() -> None:  # the scalar and console events gathered so far, as one insert each
            if scalars:
                writes.append(partial(self.store.insert_many, list(scalars), _digest(e.event_id for e in scalars)))
            if console:
                writes.append(
                    partial(self.store.insert_console_many, list(console), _digest(e.event_id for e in console))
                )
            scalars.clear()
            console.clear()

        for item in batch:
            event = item.event
            ws, exp, seq = event.workspace, event.experiment_id, event.seq
            kind = event.WhichOneof("payload")
            if item.redelivered and item.position < cleared.get((ws, exp), 0):
                continue
            try:
                again = item.redelivered
                if kind == "scalars":
                    columns = ScalarColumns.decode(event.scalars)
                    scalars.append(ScalarEvent(ws, exp, event.event_id, columns))
                    points += len(columns)
                    if again:
                        settles.append(partial(self.store.settle, scalars[-1]))
                elif kind == "console_lines":
                    console.append(
                        ConsoleEvent(ws, exp, seq, event.event_id, ConsoleColumns.decode(event.console_lines))
                    )
                    if again:
                        settles.append(partial(self.store.settle_console, console[-1]))
                elif kind == "experiment_cleared":
                    grouped()
                    writes.append(partial(self.store.delete_experiment, ws, exp, item.position))
                elif kind == "plot_reported":
                    writes.append(
                        partial(self.store.insert_plot, ws, exp, seq, event.plot_reported, event.server_time, again)
                    )
                elif kind == "debug_sample":
                    writes.append(
                        partial(self.store.insert_sample, ws, exp, seq, event.debug_sample, event.server_time, again)
                    )
                else:
                    continue
            except ValueError as exc:
                # Ingestion validated it, so this is a bug or a foreign writer: never block the log.
                log.error("projection.bad_event", event_id=event.event_id, error=str(exc))
                continue
            events += 1
            if not whole:
                grouped()  # each event its own insert, its id the token
                writes.extend(settles)
                settles.clear()
        grouped()

        def write_all() -> int:
            restored = 0
            for write in writes:
                restored += write() or 0
            return restored

        restored = await self._call(write_all)
        EVENTS.inc(events)
        POINTS.inc(points)
        RESTORED.inc(restored)


def _digest(ids: Iterable[str]) -> str:
    """The deduplication token of inserts: an event's own id, or a digest of several."""
    ids = list(ids)
    if len(ids) == 1:
        return ids[0]
    return "g:" + hashlib.sha256("\n".join(ids).encode()).hexdigest()
