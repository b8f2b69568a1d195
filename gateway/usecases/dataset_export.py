"""Export: the runs of a project or a table query as a dataset, streamed.

* ``shape=long`` — one row per metric point, and one per tag: ``experiment_id``,
  ``experiment_name``, ``project``, ``kind`` (``metric`` | ``tag``), ``key``, ``variant``,
  ``step``, ``timestamp``, ``value`` (MLflow's long export).
* ``shape=wide`` — one row per run with JSON columns ``metrics`` (``"metric/variant"`` →
  last/min/max), ``tags`` and the run's attributes.
* ``format`` = ``csv`` | ``jsonl`` | ``parquet``.

Runs are read a page at a time and points a page at a time (keyset on iteration), so memory stays
bounded whatever the size of the export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tracklane_proto import metadata_pb2, metrics_pb2

from gateway import schemas as s
from gateway import views
from gateway.state import GatewayState
from gateway.usecases.experiment_queries import require_workspace, table_request
from services.common.auth import Principal

RUNS_PER_PAGE = 200
POINTS_PER_PAGE = 100_000
PARQUET_ROWS = 50_000
LONG_COLUMNS = ["experiment_id", "experiment_name", "project", "kind", "key", "variant", "step", "timestamp", "value"]
WIDE_COLUMNS = ["experiment_id", "name", "project", "status", "user", "created_at", "started_at", "ended_at",
                "duration", "tags", "metrics"]  # fmt: skip
LONG_SCHEMA = pa.schema(
    [("experiment_id", pa.string()), ("experiment_name", pa.string()), ("project", pa.string()),
     ("kind", pa.string()), ("key", pa.string()), ("variant", pa.string()), ("step", pa.int64()),
     ("timestamp", pa.float64()), ("value", pa.string())]
)  # fmt: skip
WIDE_SCHEMA = pa.schema(
    [("experiment_id", pa.string()), ("name", pa.string()), ("project", pa.string()), ("status", pa.string()),
     ("user", pa.string()), ("created_at", pa.float64()), ("started_at", pa.float64()), ("ended_at", pa.float64()),
     ("duration", pa.float64()), ("tags", pa.string()), ("metrics", pa.string())]
)  # fmt: skip
MEDIA = {"csv": "text/csv", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}


async def _runs(
    st: GatewayState, request: metadata_pb2.ListExperimentsRequest
) -> AsyncIterator[metadata_pb2.Experiment]:
    page = 0
    while True:
        request.page, request.page_size = page, RUNS_PER_PAGE
        resp = await st.metadata.ListExperiments(request, timeout=30)
        for exp in resp.experiments:
            yield exp
        if (page + 1) * RUNS_PER_PAGE >= resp.total:
            return
        page += 1


async def _long_rows(st: GatewayState, exp: metadata_pb2.Experiment) -> AsyncIterator[list[dict[str, Any]]]:
    base = {"experiment_id": exp.id, "experiment_name": exp.name, "project": exp.project}
    tags = [
        {**base, "kind": "tag", "key": t, "variant": None, "step": None, "timestamp": None, "value": t}
        for t in exp.tags
    ]
    if tags:
        yield tags
    listing = await st.metrics.ListSeries(
        metrics_pb2.ListSeriesRequest(workspace=exp.workspace, experiment_id=exp.id), timeout=30
    )
    for series in listing.series:
        query = metrics_pb2.ReadPointsRequest(
            workspace=exp.workspace, experiment_id=exp.id, metric=series.metric, variant=series.variant,
            limit=POINTS_PER_PAGE,
        )  # fmt: skip
        while True:
            page = await st.metrics.ReadPoints(query, timeout=60)
            yield [
                {**base, "kind": "metric", "key": series.metric, "variant": series.variant, "step": it,
                 "timestamp": ts, "value": repr(v)}
                for it, v, ts in zip(page.iterations, page.values, page.timestamps, strict=True)
            ]  # fmt: skip
            if not page.more:
                break
            query.after_iteration = page.iterations[-1]


def _wide_row(exp: metadata_pb2.Experiment) -> dict[str, Any]:
    j = views.experiment(exp)
    metrics = {f"{m.metric}/{m.variant}": {"last": m.last, "min": m.min, "max": m.max} for m in j.metrics}
    return {
        "experiment_id": exp.id, "name": exp.name, "project": exp.project, "status": j.status, "user": exp.user,
        "created_at": exp.created_at, "started_at": exp.started_at, "ended_at": exp.ended_at or None,
        "duration": (exp.ended_at - exp.started_at) if exp.ended_at else None,
        "tags": json.dumps(list(exp.tags)), "metrics": json.dumps(metrics),
    }  # fmt: skip


class _Encoder:
    """Turns batches of row dicts into bytes of one format."""

    def __init__(self, fmt: str, columns: list[str], schema: pa.Schema) -> None:
        self.fmt, self.columns, self.schema = fmt, columns, schema
        self.sink = io.BytesIO()
        self.pending: list[dict[str, Any]] = []
        self.writer: pq.ParquetWriter | None = None
        self.started = False

    def _drain(self) -> bytes:
        data = self.sink.getvalue()
        self.sink.seek(0)
        self.sink.truncate()
        return data

    def encode(self, rows: list[dict[str, Any]]) -> bytes:
        if self.fmt == "jsonl":
            return "".join(json.dumps(r, allow_nan=True) + "\n" for r in rows).encode()
        if self.fmt == "csv":
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
            if not self.started:
                writer.writeheader()
                self.started = True
            writer.writerows(rows)
            return text.getvalue().encode()
        self.pending.extend(rows)
        return self._flush_parquet(final=False)

    def _flush_parquet(self, final: bool) -> bytes:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")
        while len(self.pending) >= PARQUET_ROWS or (final and self.pending):
            chunk, self.pending = self.pending[:PARQUET_ROWS], self.pending[PARQUET_ROWS:]
            self.writer.write_table(pa.Table.from_pylist(chunk, schema=self.schema))
        if final:
            self.writer.close()
        return self._drain()

    def finish(self) -> bytes:
        if self.fmt == "csv" and not self.started:
            return self.encode([])
        return self._flush_parquet(final=True) if self.fmt == "parquet" else b""


@dataclass(frozen=True)
class Export:
    media_type: str
    filename: str
    body: AsyncIterator[bytes]


async def export(st: GatewayState, who: Principal, q: s.ExportQuery) -> Export:
    """The runs of a project or a table query as a dataset. The query is checked before the
    first byte: a bad filter is an error answer, not a broken stream."""
    require_workspace(who)
    query = table_request(who, q)
    query.page_size = 1
    await st.metadata.ListExperiments(query, timeout=30)
    columns, schema = (LONG_COLUMNS, LONG_SCHEMA) if q.shape == "long" else (WIDE_COLUMNS, WIDE_SCHEMA)
    encoder = _Encoder(q.format, columns, schema)

    async def body() -> AsyncIterator[bytes]:
        async for exp in _runs(st, query):
            if q.shape == "wide":
                yield encoder.encode([_wide_row(exp)])
                continue
            async for rows in _long_rows(st, exp):
                if chunk := encoder.encode(rows):
                    yield chunk
        yield encoder.finish()

    return Export(MEDIA[q.format], f"tracklane-{q.shape}.{q.format}", body())
