"""Scalar events -> ClickHouse rows. Idempotent: each event is one insert block whose
deduplication token is the event id, so a redelivered event adds nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

import structlog
from nats.aio.msg import Msg
from prometheus_client import Counter
from tracklane.pb import events_pb2

from services.common.events import ScalarColumns, parse
from services.metrics.store import ScalarStore

log = structlog.get_logger()
POINTS = Counter("tracklane_metrics_points_projected_total", "Scalar points written to ClickHouse (incl. deduplicated)")
EVENTS = Counter("tracklane_metrics_events_projected_total", "Scalar events handled")

T = TypeVar("T")


class ScalarProjection:
    """Consumes ``tl.ev.*.*.scalars``, and the lifecycle events for ``experiment_cleared``."""

    durable = "metrics-scalars"
    filter_subjects = ["tl.ev.*.*.scalars", "tl.ev.*.*.lifecycle"]

    def __init__(self, store: ScalarStore, executor: Executor) -> None:
        self.store = store
        self.executor = executor

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def handle(self, msgs: Sequence[Msg]) -> None:
        # In log order: inserts, and the deletes of cleared experiments.
        decoded: list[tuple[events_pb2.Event, ScalarColumns | None]] = []
        for msg in msgs:
            event = parse(msg.data)
            kind = event.WhichOneof("payload")
            if kind == "experiment_cleared":
                decoded.append((event, None))
                continue
            if kind != "scalars":
                continue
            try:
                columns = ScalarColumns.decode(event.scalars)
            except ValueError as exc:
                # Ingestion validated it, so this is a bug or a foreign writer: never block the log.
                log.error("projection.bad_event", event_id=event.event_id, error=str(exc))
                continue
            decoded.append((event, columns))

        def write() -> None:
            for event, columns in decoded:
                if columns is None:
                    self.store.delete_experiment(event.workspace, event.experiment_id)
                else:
                    self.store.insert(event.workspace, event.experiment_id, event.event_id, columns)

        await self._call(write)
        EVENTS.inc(len(decoded))
        POINTS.inc(sum(len(c) for _, c in decoded if c is not None))
