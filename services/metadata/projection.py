"""Lifecycle and scalar events -> experiment documents and projects in MongoDB.

The events of one fetched batch are folded per experiment into one optimistic write, so a busy
experiment costs one MongoDB round trip per batch, not per event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import structlog
from nats.aio.msg import Msg
from prometheus_client import Counter
from tracklane.pb import events_pb2

from services.common.events import ScalarColumns, parse
from services.metadata import domain
from services.metadata.store import MetadataStore

log = structlog.get_logger()
EVENTS = Counter("tracklane_metadata_events_projected_total", "Events applied to MongoDB", ["kind"])

Change = Callable[[domain.Doc | None], domain.Doc]


class MetadataProjection:
    durable = "metadata"
    filter_subjects = ["tl.ev.*.*.lifecycle", "tl.ev.*.*.scalars", "tl.ev.*.*.edit"]

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    async def handle(self, msgs: Sequence[Msg]) -> None:
        changes: dict[str, list[Change]] = defaultdict(list)
        projects: list[tuple[str, str, float]] = []
        for msg in msgs:
            event = parse(msg.data)
            change = self._change_for(event, msg.metadata.sequence.stream)
            if change is None:
                continue
            changes[event.experiment_id].append(change)
            if event.WhichOneof("payload") == "experiment_created":
                projects.append((event.workspace, event.experiment_created.project, event.server_time))

        for workspace, path, at in projects:
            await self.store.touch_project(workspace, path, at)
        for experiment_id, fns in changes.items():
            await self.store.mutate_experiment(experiment_id, _compose(fns))

    def _change_for(self, event: events_pb2.Event, stream_seq: int) -> Change | None:
        kind = event.WhichOneof("payload")
        exp, ws, seq, at = event.experiment_id, event.workspace, event.seq, event.server_time
        if kind == "experiment_created":
            payload = event.experiment_created
            EVENTS.labels("experiment_created").inc()
            return lambda doc: domain.apply_created(doc, exp, ws, payload, at, stream_seq)
        if kind == "status_changed":
            sc = event.status_changed
            status = domain.STATUS_NAMES.get(sc.status, "unspecified")
            EVENTS.labels("status_changed").inc()
            return lambda doc: domain.apply_status(doc, exp, ws, seq, status, sc.reason, sc.at or at)
        if kind == "experiment_edited":
            edit = event.experiment_edited
            EVENTS.labels("experiment_edited").inc()
            return lambda doc: domain.apply_edited(doc, exp, ws, edit, at, stream_seq)
        if kind == "scalars":
            try:
                summaries = domain.summarize(ScalarColumns.decode(event.scalars))
            except ValueError as exc:
                log.error("projection.bad_event", event_id=event.event_id, error=str(exc))
                return None
            EVENTS.labels("scalars").inc()
            return lambda doc: domain.apply_scalars(doc, exp, ws, seq, summaries, at)
        return None


def _compose(fns: list[Change]) -> Change:
    def run(doc: domain.Doc | None) -> domain.Doc:
        for fn in fns:
            doc = fn(doc)
        assert doc is not None
        return doc

    return run
