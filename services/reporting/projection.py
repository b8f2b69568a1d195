"""Report, share and note events -> documents of the reporting store. Its consumer and kinds:
``REGISTRY["reporting"]``. The rules (idempotent, order-free) are in :mod:`domain`."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from prometheus_client import Counter

from services.common.projections import Positioned
from services.reporting import domain
from services.reporting.store import ReportStore

EVENTS = Counter("tracklane_reporting_events_projected_total", "Events applied to the reports", ["kind"])


class ReportingProjection:
    def __init__(self, store: ReportStore) -> None:
        self.store = store

    async def handle(self, batch: Sequence[Positioned]) -> None:
        for item in batch:
            event, position = item.event, item.position
            kind = event.WhichOneof("payload") or ""
            ws, target = event.workspace, event.experiment_id
            if kind in ("report_created", "report_edited"):
                await self.store.mutate_report(
                    ws, target, functools.partial(domain.apply_report, event=event, position=position)
                )
            elif kind in ("report_shared", "report_share_revoked"):
                await self.store.mutate_report(ws, target, functools.partial(domain.apply_share, event=event))
            elif kind == "note_set":
                await self.store.mutate_note(
                    ws, target, functools.partial(domain.apply_note, event=event, position=position)
                )
            else:
                continue
            EVENTS.labels(kind).inc()
