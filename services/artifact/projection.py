"""File events -> object storage housekeeping.

* ``artifact_registered`` / ``debug_sample``: the audit. The object must exist with the size the
  client reported (a mismatch is logged and counted: the SDK uploads before it sends the event).
* ``debug_sample``: retention. Only the newest ``keep_last`` objects of each metric/variant
  folder stay (keys sort by iteration); older ones are deleted.
* ``experiment_cleared``: every object of the experiment is deleted.

Everything is idempotent: a redelivered event finds the same objects, or fewer.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Sequence

import structlog
from prometheus_client import Counter
from tracklane_proto import events_pb2

from services.artifact.store import ObjectStore
from services.common.contract import object_key
from services.common.projections import Positioned

log = structlog.get_logger()
AUDITED = Counter("tracklane_artifact_audited_total", "Uploaded objects checked", ["outcome"])
EXPIRED = Counter("tracklane_artifact_samples_expired_total", "Debug-sample objects deleted by retention")


class FileProjection:
    """Audit, retention and clearing of objects. Its consumer and kinds: ``REGISTRY["artifact"]``."""

    def __init__(self, store: ObjectStore, keep_last: int) -> None:
        self.store = store
        self.keep_last = keep_last

    async def handle(self, batch: Sequence[Positioned]) -> None:
        await asyncio.to_thread(self._handle, [item.event for item in batch])

    def _handle(self, events: list[events_pb2.Event]) -> None:
        folders: set[str] = set()
        for event in events:
            kind = event.WhichOneof("payload")
            ws, exp = event.workspace, event.experiment_id
            if kind == "experiment_cleared":
                keys = self.store.keys(f"{ws}/{exp}/")
                self.store.delete(keys)
                folders = {f for f in folders if not f.startswith(f"{ws}/{exp}/")}
                log.info("artifact.cleared", workspace=ws, experiment=exp, objects=len(keys))
            elif kind in ("artifact_registered", "debug_sample"):
                ref = getattr(event, kind).file
                try:
                    key = object_key(ws, exp, ref.key)
                except ValueError:
                    AUDITED.labels("bad_key").inc()
                    continue
                self._audit(key, ref.size)
                if kind == "debug_sample":
                    folders.add(posixpath.dirname(key) + "/")
        for folder in folders:
            self._retain(folder)

    def _audit(self, key: str, size: int) -> None:
        info = self.store.stat(key)
        if info is None:
            AUDITED.labels("missing").inc()
            log.warning("artifact.missing", key=key)
        elif info.size != size:
            AUDITED.labels("size_mismatch").inc()
            log.warning("artifact.size_mismatch", key=key, reported=size, stored=info.size)
        else:
            AUDITED.labels("ok").inc()

    def _retain(self, folder: str) -> None:
        keys = self.store.keys(folder)
        old = keys[: max(0, len(keys) - self.keep_last)]
        if old:
            self.store.delete(old)
            EXPIRED.inc(len(old))
