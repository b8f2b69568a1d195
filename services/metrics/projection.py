"""Scalar, console, plot and debug-sample events -> ClickHouse rows. Idempotent: each scalar or
console event is one insert block whose deduplication token is the event id, so a redelivered
event adds nothing; plots and samples replace by (iteration, seq)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

import structlog
from prometheus_client import Counter
from tracklane_proto import events_pb2

from services.common.events import ConsoleColumns, ScalarColumns
from services.common.projections import Positioned
from services.metrics.store import ScalarStore

log = structlog.get_logger()
POINTS = Counter("tracklane_metrics_points_projected_total", "Scalar points written to ClickHouse (incl. deduplicated)")
EVENTS = Counter("tracklane_metrics_events_projected_total", "Scalar events handled")

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
        # In log order: inserts, and the deletes of cleared experiments.
        writes: list[Callable[[], None]] = []
        points = 0
        for item in batch:
            event = item.event
            try:
                write, n = self._write_for(event)
            except ValueError as exc:
                # Ingestion validated it, so this is a bug or a foreign writer: never block the log.
                log.error("projection.bad_event", event_id=event.event_id, error=str(exc))
                continue
            if write is not None:
                writes.append(write)
                points += n

        def write_all() -> None:
            for write in writes:
                write()

        await self._call(write_all)
        EVENTS.inc(len(writes))
        POINTS.inc(points)

    def _write_for(self, event: events_pb2.Event) -> tuple[Callable[[], None] | None, int]:
        ws, exp, seq = event.workspace, event.experiment_id, event.seq
        kind = event.WhichOneof("payload")
        if kind == "experiment_cleared":
            return (lambda: self.store.delete_experiment(ws, exp)), 0
        if kind == "scalars":
            columns = ScalarColumns.decode(event.scalars)
            return (lambda: self.store.insert(ws, exp, event.event_id, columns)), len(columns)
        if kind == "console_lines":
            lines = ConsoleColumns.decode(event.console_lines)
            return (lambda: self.store.insert_console(ws, exp, seq, event.event_id, lines)), 0
        if kind == "plot_reported":
            return (lambda: self.store.insert_plot(ws, exp, seq, event.plot_reported, event.server_time)), 0
        if kind == "debug_sample":
            return (lambda: self.store.insert_sample(ws, exp, seq, event.debug_sample, event.server_time)), 0
        return None, 0
