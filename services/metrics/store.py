"""The scalar store: a small interface and its ClickHouse adapter (chDB embedded or a server).

clickhouse-connect gives one client API for both: ``chdb:///dir`` runs the ClickHouse engine
in-process, ``http(s)://host:8123`` talks to a server. The calls are blocking; the service runs
them in its own executor, never on the event loop.

Redelivered events are dropped by insert deduplication, but on a non-replicated MergeTree that
alone can lose one: the table writes a block's token to its deduplication log before it commits
the part, so a process killed between the two leaves the token without the rows, and the event
redelivered after the restart is dropped as a duplicate (while the rollups' view may have
committed its own part). So an event that may have been applied before is settled after its
insert (:meth:`ClickHouseScalarStore.settle`): its rows counted, stored again when missing, and
its blocks' rollups rebuilt where they disagree with the points. A cluster's replicated tables
commit the token in Keeper with the part, and a replica may not have fetched a part yet, so
there an insert's deduplication is left to do it all.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from importlib import resources
from typing import Any, NamedTuple, Protocol

import clickhouse_connect
import numpy as np
import structlog
from clickhouse_connect.driver.client import Client
from tracklane_proto import events_pb2

from services.common.clickhouse_cluster import client_settings, created, drop, local_table
from services.common.clickhouse_cluster import statements as cluster_statements
from services.common.events import ConsoleColumns, ScalarColumns
from services.metrics.domain import (
    ConsoleLine,
    PlotRow,
    SampleRow,
    SeriesInfo,
    SeriesQuery,
    SeriesResult,
    console_cursor,
)

log = structlog.get_logger()

Key = tuple[str, str, str, str]  # a series: (workspace, experiment, metric, variant)
Grid = tuple[float, float]  # a bucket grid: its low edge and bucket width


class ScalarEvent(NamedTuple):
    """One scalar event's points, as stored."""

    workspace: str
    experiment_id: str
    event_id: str
    columns: ScalarColumns


class ConsoleEvent(NamedTuple):
    """One console event's lines, as stored (``seq`` orders them: the lines' cursors)."""

    workspace: str
    experiment_id: str
    seq: int
    event_id: str
    lines: ConsoleColumns


class ScalarStore(Protocol):
    """What the metrics service needs from storage."""

    def insert(self, workspace: str, experiment_id: str, event_id: str, columns: ScalarColumns) -> None:
        """Stores one event's points; a second insert of the same event id stores nothing."""

    def insert_many(self, events: Sequence[ScalarEvent], token: str) -> None:
        """Stores several events' points as one unit: a second insert with the same ``token``
        stores nothing (so the same events must always come with the same token)."""

    def settle(self, event: ScalarEvent) -> int:
        """After the insert of an event that may have been applied before: makes sure the table
        holds its points once and that the block rollups of its range agree with the points.
        Returns the points it had to store again (0 but for the hole a crash can leave)."""

    def query_series(self, query: SeriesQuery, grid: tuple[float, float] | None = None) -> SeriesResult: ...

    def query_chart(self, queries: list[SeriesQuery]) -> tuple[list[SeriesResult], Grid | None]:
        """A chart's series on one bucket grid (the union of their extents)."""

    def query_charts(self, charts: list[list[SeriesQuery]]) -> list[tuple[list[SeriesResult], Grid | None]]:
        """Several charts at once, each on its own grid."""

    def list_series(self, workspace: str, experiment_id: str) -> list[SeriesInfo]: ...

    def read_points(
        self, workspace: str, experiment_id: str, metric: str, variant: str, after: int | None, limit: int
    ) -> tuple[list[int], list[float], list[float]]:
        """Up to ``limit`` points with iteration > ``after``, in iteration order."""

    def delete_experiment(self, workspace: str, experiment_id: str, position: int = 0) -> None:
        """Removes every point, console line, plot and sample record of the experiment, noting
        first that it was cleared at ``position`` in the log (when given)."""

    def cleared(self, experiments: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The log position of each (workspace, experiment)'s last clear, of those cleared."""

    def insert_console(
        self, workspace: str, experiment_id: str, seq: int, event_id: str, lines: ConsoleColumns
    ) -> None:
        """Stores one event's console lines (deduplicated by event id, like scalars)."""

    def insert_console_many(self, events: Sequence[ConsoleEvent], token: str) -> None:
        """Several events' console lines as one unit, deduplicated by ``token``."""

    def settle_console(self, event: ConsoleEvent) -> int:
        """:meth:`settle` for console lines: the lines it had to store again."""

    def insert_plot(
        self,
        workspace: str,
        experiment_id: str,
        seq: int,
        plot: events_pb2.PlotReported,
        ts: float,
        again: bool = False,
    ) -> None:
        """Stores a plot; a later one (higher seq) at the same iteration replaces it. ``again``: the
        event may have been applied before (its row is written anyway: the same seq twice reads
        as one)."""

    def insert_sample(
        self,
        workspace: str,
        experiment_id: str,
        seq: int,
        sample: events_pb2.DebugSample,
        ts: float,
        again: bool = False,
    ) -> None:
        """Indexes a debug sample; a later one at the same iteration replaces it (``again``: as
        for plots)."""

    def read_console(
        self, workspace: str, experiment_id: str, after: int, limit: int, tail: bool, search: str
    ) -> tuple[list[ConsoleLine], bool, int]:
        """(lines in order, more after them, total lines matching)."""

    def get_plots(
        self, workspace: str, experiment_id: str, metric: str, variant: str, iteration: int | None, history: int = 0
    ) -> list[PlotRow]:
        """The latest plot of each metric/variant (or the one at ``iteration``); with ``history``,
        each series' newest ``history`` iterations, oldest first (a histogram over time)."""

    def get_samples(
        self, workspace: str, experiment_id: str, metric: str, variant: str, iteration: int | None, keep_last: int
    ) -> list[SampleRow]: ...

    def close(self) -> None: ...
    def reset(self) -> None: ...


MAX_PLOT_ITERATIONS = 1000  # the iterations a plot lists for its picker (the newest)
MAX_PLOT_HISTORY = 500  # the iterations one request returns of a series over time
BLOCK_BITS = 6  # rollup blocks of 64 iterations (migrations/0003_scalar_blocks.sql)
ROLLUP_MIN_WIDTH = 4 * (1 << BLOCK_BITS)  # so a block spans at most a quarter of a bucket
_X_EXPR = {"iter": "toFloat64(iteration)", "wall": "ts", "relative": "(ts - {t0:Float64})"}
_ORDER_EXPR = {"iter": "iteration", "wall": "ts", "relative": "ts"}
_KEYS_TYPE = "Array(Tuple(String, String, String, String))"  # (workspace, experiment, metric, variant)s
_SEP = "\x1f"  # between the key columns of a series' name (names hold no control characters)
_SERIES_WHERE = (
    "workspace = {ws:String} AND experiment_id = {exp:String}"
    " AND metric = {metric:String} AND variant = {variant:String}"
)


class ClickHouseScalarStore:
    """:class:`ScalarStore` over ClickHouse (any URL clickhouse-connect accepts)."""

    def __init__(self, url: str, rollup_min_width: float = 0.0, cluster: str = "") -> None:
        self.url = url
        self.cluster = cluster
        self.client: Client = clickhouse_connect.get_client(dsn=url, settings=client_settings(cluster))
        self.is_embedded = url.startswith("chdb:")
        # Buckets at least this many iterations wide are computed from the block rollups.
        self.rollup_min_width = rollup_min_width or ROLLUP_MIN_WIDTH
        self.applied = migrate(self.client, cluster)  # the migrations this start applied
        self._types: dict[tuple[str, tuple[str, ...]], Any] = {}

    def close(self) -> None:
        self.client.close()

    def reset(self) -> None:
        """Drops every table of the read model, its deduplication memory with it, and makes them
        again, empty (a replay rebuilds them from the log)."""
        names = [name for file in migration_files() for name in created(file.read_text())]
        drop(self.client, [*reversed(names), "schema_migrations"], self.cluster)
        self._types.clear()
        self.applied = migrate(self.client, self.cluster)

    def _insert(self, table: str, data: Any, columns: list[str], **kw: Any) -> None:
        """An insert with the columns' types known after the first one (clickhouse-connect asks the
        server to describe the table before every insert otherwise: a fifth of a small event's cost)."""
        key = (table, tuple(columns))
        types = self._types.get(key)
        if types is None:
            types = self._types[key] = self.client.create_insert_context(table, columns).column_types
        self.client.insert(table, data, column_names=columns, column_types=types, **kw)

    def insert(self, workspace: str, experiment_id: str, event_id: str, columns: ScalarColumns) -> None:
        self.insert_many([ScalarEvent(workspace, experiment_id, event_id, columns)], token=event_id)

    def insert_many(self, events: Sequence[ScalarEvent], token: str) -> None:
        # the block rollups (materialized view) drop a redelivered insert too
        self._insert_scalars(
            events, {"insert_deduplication_token": token, "deduplicate_blocks_in_dependent_materialized_views": 1}
        )

    def _insert_scalars(self, events: Sequence[ScalarEvent], settings: dict[str, Any]) -> None:
        parts = [e for e in events if len(e.columns)]
        if not parts:
            return
        data: list[Any] = [
            np.concatenate([np.full(len(e.columns), e.workspace, dtype=object) for e in parts]),
            np.concatenate([np.full(len(e.columns), e.experiment_id, dtype=object) for e in parts]),
            np.concatenate([e.columns.metrics[e.columns.series_index] for e in parts]),
            np.concatenate([e.columns.variants[e.columns.series_index] for e in parts]),
            np.concatenate([e.columns.iterations for e in parts]),
            np.concatenate([e.columns.values for e in parts]),
            np.concatenate([e.columns.timestamps for e in parts]),
            np.concatenate([np.full(len(e.columns), e.event_id, dtype=object) for e in parts]),
        ]
        self._insert(
            "scalars",
            data,
            ["workspace", "experiment_id", "metric", "variant", "iteration", "value", "ts", "event_id"],
            column_oriented=True,
            settings=settings,
        )

    def settle(self, event: ScalarEvent) -> int:
        cols = event.columns
        if self.cluster or not len(cols):
            return 0
        keys = [(str(m), str(v)) for m, v in zip(cols.metrics, cols.variants, strict=True)]
        lo, hi = int(cols.iterations.min()), int(cols.iterations.max())
        params: dict[str, Any] = {"ws": event.workspace, "exp": event.experiment_id, "id": event.event_id,
                                  "series": keys, "lo": lo, "hi": hi,
                                  "fb": lo >> BLOCK_BITS, "lb": hi >> BLOCK_BITS}  # fmt: skip
        where = (
            "workspace = {ws:String} AND experiment_id = {exp:String}"
            " AND (metric, variant) IN {series:Array(Tuple(String, String))}"
        )
        mine = f"{where} AND iteration BETWEEN {{lo:Int64}} AND {{hi:Int64}} AND event_id = {{id:String}}"
        row = self.client.query(f"SELECT count() FROM scalars WHERE {mine}", parameters=params).first_row
        stored = int(row[0]) if row else 0
        restored = 0
        if stored != len(cols):
            if stored:  # part of it (a single insert is never split, but be sure): all of it again
                self.client.command(f"DELETE FROM scalars WHERE {mine}", parameters=params)
            self._insert_scalars([event], _fresh(event.event_id))
            restored = len(cols)
        # The rollups of the event's blocks: the view may have committed its part for a lost one,
        # or lost its own; a block whose count disagrees with the points is made again from them.
        block = f"bitShiftRight(iteration, {BLOCK_BITS})"
        made = self.client.query(
            f"SELECT workspace, experiment_id, metric, variant, {block} AS block, count(), min(value), max(value),"
            " sum(value), min(iteration), max((iteration, value)) FROM scalars"
            f" WHERE {where} AND {block} BETWEEN {{fb:Int64}} AND {{lb:Int64}}"
            " GROUP BY workspace, experiment_id, metric, variant, block",
            parameters=params,
        ).result_rows
        rolled = self.client.query(
            f"SELECT metric, variant, block, sum(n) FROM scalar_blocks"
            f" WHERE {where} AND block BETWEEN {{fb:Int64}} AND {{lb:Int64}} GROUP BY metric, variant, block",
            parameters=params,
        ).result_rows
        truth = {(r[2], r[3], int(r[4])): r for r in made}  # (metric, variant, block): its row, as the view makes it
        counts = {k: int(r[5]) for k, r in truth.items()}
        have = {(m, v, int(b)): int(n) for m, v, b, n in rolled}
        wrong = sorted(k for k in counts.keys() | have.keys() if counts.get(k) != have.get(k))
        if wrong:
            self.client.command(
                f"DELETE FROM scalar_blocks WHERE {where}"
                " AND (metric, variant, block) IN {wrong:Array(Tuple(String, String, Int64))}",
                parameters={**params, "wrong": wrong},
            )
            rows = [truth[k] for k in wrong if k in truth]
            if rows:
                columns = ["workspace", "experiment_id", "metric", "variant", "block", "n", "lo", "hi", "total"]
                self._insert("scalar_blocks", rows, [*columns, "first_it", "last"], settings=_fresh(event.event_id))
        if restored or wrong:
            log.warning("metrics.settled", event_id=event.event_id, restored_points=restored, rebuilt_blocks=len(wrong))
        return restored

    def query_chart(self, queries: list[SeriesQuery]) -> tuple[list[SeriesResult], Grid | None]:
        """The series of one chart on one bucket grid (see :meth:`query_charts`)."""
        return self.query_charts([queries])[0]

    def query_charts(self, charts: list[list[SeriesQuery]]) -> list[tuple[list[SeriesResult], Grid | None]]:
        """Several charts, each on its own bucket grid. A chart of several series has ``samples``
        buckets over the union of their extents, so the runs' buckets line up whatever their
        lengths (x is the bucket's centre); a chart of one series has its own extent's buckets,
        each at its last point's x. A series with no more points than ``samples`` comes whole:
        its points are exact. Three statements for all the charts — the extents, the whole
        series, the bucketed ones — not three per chart or per series; a long series on
        iterations reads its block rollups instead. A series is in one chart at most. Returns
        each chart's results and its shared grid (low edge, bucket width): None for a chart of
        one series or when nothing needed buckets."""
        queries = [q for chart in charts for q in chart]
        q0 = queries[0]
        where, params, x = self._chart_sql(queries)
        keys = "workspace, experiment_id, metric, variant"
        extent = f"SELECT {keys}, count(), min({x}), max({x}) FROM scalars WHERE {where} GROUP BY {keys}"
        # from the rollups: 64 times fewer rows (max(last.1), not max(last).1: a tuple's max per group is slow)
        if q0.xaxis == "iter" and q0.x_min is None and q0.x_max is None:
            extent = (
                f"SELECT {keys}, sum(n), min(first_it), max(last.1) FROM scalar_blocks WHERE {where} GROUP BY {keys}"
            )
        extents = {
            (w, e, m, v): (int(n), float(lo), float(hi))
            for w, e, m, v, n, lo, hi in self.client.query(extent, parameters=params).result_rows
        }
        results: dict[Key, SeriesResult] = {}
        whole = [k for k in map(_key, queries) if k in extents and extents[k][0] <= q0.samples]
        if whole:
            order = _ORDER_EXPR[q0.xaxis]
            rows = self.client.query(
                f"SELECT {keys}, {x}, value FROM scalars WHERE {where}"
                f" AND ({keys}) IN {{whole:{_KEYS_TYPE}}} ORDER BY {keys}, {order}",
                parameters={**params, "whole": whole},
            ).result_rows
            for k in whole:
                results[k] = SeriesResult(k[2], k[3], extents[k][0], False)
            for w, e, m, v, xv, value in rows:
                _add(results[(w, e, m, v)], xv, value, value, value, value, 1)
        grids: list[Grid | None] = []
        bucketed: dict[Key, Grid] = {}  # read in one statement, each on its chart's grid
        own: set[Key] = set()  # a chart's only series: each bucket at its last point's x
        for chart in charts:
            long = [(q, k) for q, k in ((q, _key(q)) for q in chart) if k in extents and extents[k][0] > q0.samples]
            if not long:
                grids.append(None)
                continue
            if len(chart) == 1:
                lo, hi = extents[long[0][1]][1:]
                grid, shared = (lo, (hi - lo) / q0.samples or 1.0), False
            else:
                found = [extents[k] for k in map(_key, chart) if k in extents]
                lo, hi = min(f[1] for f in found), max(f[2] for f in found)
                if q0.x_min is not None:  # a zoom: the grid spans the range asked for
                    lo = q0.x_min if q0.x_max is not None else max(lo, q0.x_min)
                if q0.x_max is not None:
                    hi = q0.x_max
                grid, shared = (float(lo), (float(hi) - float(lo)) / q0.samples or 1.0), True
            grids.append(grid if shared else None)
            for q, k in long:
                if q0.xaxis == "iter" and grid[1] >= self.rollup_min_width:  # from the block rollups
                    results[k] = self._query_blocks(q, grid if shared else None, extents[k]) or self.query_series(
                        q, grid if shared else None
                    )
                else:
                    results[k] = SeriesResult(k[2], k[3], extents[k][0], True)
                    bucketed[k] = grid
                    if not shared:
                        own.add(k)
        if bucketed:
            self._bucket_many(bucketed, own, where, params, x, q0, results)
        return [
            ([results.get(k) or SeriesResult(k[2], k[3], 0, False) for k in map(_key, chart)], grid)
            for chart, grid in zip(charts, grids, strict=True)
        ]

    def _chart_sql(self, queries: list[SeriesQuery]) -> tuple[str, dict[str, Any], str]:
        """(WHERE clause, its parameters, the x expression) of a chart's series and its range; on
        relative time each experiment counts from its own first point."""
        q0 = queries[0]
        series = [(q.workspace, q.experiment_id, q.metric, q.variant) for q in queries]
        params: dict[str, Any] = {"series": series}
        distinct = 1
        for i, column in enumerate(("workspace", "experiment_id", "metric", "variant")):
            params[f"{column}s"] = sorted({s[i] for s in series})
            distinct *= len(params[f"{column}s"])
        # each key column on its own, so the primary key's index narrows the read to these series'
        # granules; the exact combinations only when the columns' values combine into others too
        # (comparing tuples of strings row by row costs as much as the rest of the read)
        where = (
            "workspace IN {workspaces:Array(String)} AND experiment_id IN {experiment_ids:Array(String)}"
            " AND metric IN {metrics:Array(String)} AND variant IN {variants:Array(String)}"
        )
        if distinct > len(set(series)):
            where += f" AND (workspace, experiment_id, metric, variant) IN {{series:{_KEYS_TYPE}}}"
        x = _X_EXPR[q0.xaxis]
        if q0.xaxis == "relative":
            exps = sorted({(q.workspace, q.experiment_id) for q in queries})
            starts = dict(
                ((w, e), float(t0))
                for w, e, t0 in self.client.query(
                    "SELECT workspace, experiment_id, min(ts) FROM scalars"
                    " WHERE workspace IN {workspaces:Array(String)} AND experiment_id IN {experiment_ids:Array(String)}"
                    " GROUP BY workspace, experiment_id",
                    parameters=params,  # each run from its first point of any series, as one series' chart does
                ).result_rows
            )
            params["t0_ids"] = [e for _, e in exps]
            params["t0s"] = [starts.get(k, 0.0) for k in exps]
            x = "(ts - transform(experiment_id, {t0_ids:Array(String)}, {t0s:Array(Float64)}, 0.))"
        return where + _range(q0, x, params), params, x

    def _bucket_many(
        self,
        grids: dict[Key, Grid],
        own: set[Key],
        where: str,
        params: dict[str, Any],
        x: str,
        q0: SeriesQuery,
        results: dict[Key, SeriesResult],
    ) -> None:
        """Every series of ``grids`` in its grid's buckets, in one statement. Each row finds its
        series' number (and so its grid) by the key columns that differ between the series read,
        and rows are grouped on that number, not on strings (hashing strings per row is most of
        the cost); the other series' rows (whole ones, or read from their rollups) are left out
        by it too. A series of ``own`` has each bucket at its last point's x, the others at the
        bucket's centre."""
        columns = ("workspace", "experiment_id", "metric", "variant")
        vary = [c for c in columns if len(params[f"{c}s"]) > 1] or ["experiment_id"]
        at = [columns.index(c) for c in vary]
        name = vary[0] if len(vary) == 1 else f"concat({', {sep:String}, '.join(vary)})"
        order = _ORDER_EXPR[q0.xaxis]
        keys = list(grids)
        last_x = f", argMax({x}, {order})" if own else ""
        cols = self.client.query(
            f"""
            WITH transform({name}, {{names:Array(String)}}, range(toUInt32({{n:UInt32}})), {{n:UInt32}}) AS series
            SELECT series,
                   least(toUInt32(greatest(floor(
                       ({x} - {{los:Array(Float64)}}[series + 1]) / {{widths:Array(Float64)}}[series + 1]
                   ), 0)), {{top:UInt32}}) AS bucket,
                   min(value), max(value), avg(value), argMax(value, {order}), count(){last_x}
            FROM scalars WHERE {where} AND series < {{n:UInt32}}
            GROUP BY series, bucket ORDER BY series, bucket
            """,
            parameters={
                **params,
                "sep": _SEP,
                "n": len(keys),
                "names": [_SEP.join(k[i] for i in at) for k in keys],
                "los": [grids[k][0] for k in keys],
                "widths": [grids[k][1] for k in keys],
                "top": q0.samples - 1,
            },
        ).result_columns
        if not cols or not cols[0]:
            return
        numbers, buckets, lows, highs, means, lasts, counts = cols[:7]
        last_xs = cols[7] if own else None
        start = 0
        for i in range(1, len(buckets) + 1):  # the rows come grouped by series: take each one's slice
            if i < len(buckets) and numbers[i] == numbers[start]:
                continue
            key = keys[numbers[start]]
            r = results[key]
            if last_xs is not None and key in own:
                r.x.extend(last_xs[start:i])
            else:
                lo, width = grids[key]
                r.x.extend(lo + (b + 0.5) * width for b in buckets[start:i])
            r.min.extend(lows[start:i])
            r.max.extend(highs[start:i])
            r.mean.extend(means[start:i])
            r.last.extend(lasts[start:i])
            r.count.extend(int(n) for n in counts[start:i])
            start = i

    def _series_sql(self, query: SeriesQuery) -> tuple[str, dict[str, Any], str]:
        """(WHERE clause, its parameters, the x expression) of a series and its range."""
        params: dict[str, Any] = {
            "ws": query.workspace,
            "exp": query.experiment_id,
            "metric": query.metric,
            "variant": query.variant,
            "t0": 0.0,
        }
        if query.xaxis == "relative":
            row = self.client.query(
                "SELECT min(ts) FROM scalars WHERE workspace = {ws:String} AND experiment_id = {exp:String}",
                parameters=params,
            ).first_row
            params["t0"] = float(row[0] or 0.0) if row else 0.0
        x = _X_EXPR[query.xaxis]
        return _SERIES_WHERE + _range(query, x, params), params, x

    def query_series(self, query: SeriesQuery, grid: tuple[float, float] | None = None) -> SeriesResult:
        """One series: whole when it has at most ``samples`` points, else in buckets — of its own
        extent, or of ``grid`` (low edge, width) shared by a chart's series, whose x is then the
        bucket's centre so that the series line up."""
        if query.xaxis == "iter":
            rolled = self._query_blocks(query, grid)
            if rolled is not None:
                return rolled
        where, params, x = self._series_sql(query)
        stats = self.client.query(
            f"SELECT count(), min({x}), max({x}) FROM scalars WHERE {where}", parameters=params
        ).first_row
        assert stats is not None  # an aggregate without GROUP BY always has one row
        count, lo, hi = stats
        if count == 0:
            return SeriesResult(query.metric, query.variant, 0, False)
        order = _ORDER_EXPR[query.xaxis]
        if count <= query.samples:
            rows = self.client.query(
                f"SELECT {x}, value FROM scalars WHERE {where} ORDER BY {order}", parameters=params
            ).result_columns
            xs, values = [list(c) for c in rows]
            return SeriesResult(
                query.metric, query.variant, count, False, xs, values, values, values, values, [1] * count
            )
        params["lo"], params["width"] = grid or (float(lo), (float(hi) - float(lo)) / query.samples or 1.0)
        params["top"] = query.samples - 1
        at = "{lo:Float64} + (bucket + 0.5) * {width:Float64}" if grid else f"argMax({x}, {order})"
        cols = self.client.query(
            f"""
            SELECT least(toUInt32(greatest(floor(({x} - {{lo:Float64}}) / {{width:Float64}}), 0)), {{top:UInt32}})
                     AS bucket,
                   {at}, min(value), max(value), avg(value), argMax(value, {order}), count()
            FROM scalars WHERE {where}
            GROUP BY bucket ORDER BY bucket
            """,
            parameters=params,
        ).result_columns
        _, xs, mins, maxs, means, lasts, counts = [list(c) for c in cols]
        return SeriesResult(query.metric, query.variant, count, True, xs, mins, maxs, means, lasts, counts)

    def _query_blocks(
        self, query: SeriesQuery, grid: tuple[float, float] | None = None, known: tuple[int, float, float] | None = None
    ) -> SeriesResult | None:
        """The iteration axis from the block rollups (whole blocks inside the range) and the points
        of the range's partial edge blocks; None when the buckets would be narrower than
        ``rollup_min_width`` iterations (the points are then read directly). ``known``: the
        series' (count, first iteration, last iteration) when a chart read them already."""
        params: dict[str, Any] = {"ws": query.workspace, "exp": query.experiment_id, "metric": query.metric,
                                  "variant": query.variant}  # fmt: skip
        blocks_where, edges_where = _SERIES_WHERE, ""
        if query.x_min is not None or query.x_max is not None:
            a = math.ceil(query.x_min) if query.x_min is not None else -(2**62)
            b = math.floor(query.x_max) if query.x_max is not None else 2**62
            if a > b:
                return None
            # whole blocks inside [a, b]; the points of [a, b] outside them come from the edges
            params.update(a=a, b=b, fb=-((-a) >> BLOCK_BITS), lb=((b + 1) >> BLOCK_BITS) - 1)
            blocks_where += " AND block BETWEEN {fb:Int64} AND {lb:Int64}"
            edges_where = (
                f"{_SERIES_WHERE} AND iteration BETWEEN {{a:Int64}} AND {{b:Int64}}"
                f" AND NOT (bitShiftRight(iteration, {BLOCK_BITS}) BETWEEN {{fb:Int64}} AND {{lb:Int64}})"
            )
        # Rows of one block not merged yet are summed as they are: each lands in its own bucket by
        # its first iteration, and every total, extreme and last value stays exact.
        merged = f"SELECT n, lo, hi, total, first_it, last FROM scalar_blocks WHERE {blocks_where}"
        if edges_where:
            merged += (
                " UNION ALL SELECT toUInt64(1), value, value, value, iteration, (iteration, value)"
                f" FROM scalars WHERE {edges_where}"
            )
        if known is not None and not edges_where:  # the extents a chart read already (no zoom)
            count, lo, hi = known
        else:
            stats = self.client.query(f"SELECT sum(n), min(first_it), max(last).1 FROM ({merged})", parameters=params)
            count, lo, hi = stats.first_row if stats.first_row else (0, 0, 0)
        x0, width = grid or (float(lo), (hi - lo) / query.samples)
        if count <= query.samples or width < self.rollup_min_width:
            return None
        params.update(x0=x0, width=width, top=query.samples - 1)
        at = "{x0:Float64} + (bucket + 0.5) * {width:Float64}" if grid else "toFloat64(max(last).1)"
        cols = self.client.query(
            f"""
            SELECT least(toUInt32(greatest(floor((first_it - {{x0:Float64}}) / {{width:Float64}}), 0)), {{top:UInt32}})
                     AS bucket,
                   {at}, min(lo), max(hi), sum(total) / sum(n), max(last).2, sum(n)
            FROM ({merged})
            GROUP BY bucket ORDER BY bucket
            """,
            parameters=params,
        ).result_columns
        _, xs, mins, maxs, means, lasts, counts = [list(c) for c in cols]
        return SeriesResult(query.metric, query.variant, int(count), True, xs, mins, maxs, means, lasts, counts)

    def list_series(self, workspace: str, experiment_id: str) -> list[SeriesInfo]:
        # from the block rollups: 64 times fewer rows than the points, the same counts
        rows = self.client.query(
            "SELECT metric, variant, sum(n) FROM scalar_blocks"
            " WHERE workspace = {ws:String} AND experiment_id = {exp:String}"
            " GROUP BY metric, variant ORDER BY metric, variant",
            parameters={"ws": workspace, "exp": experiment_id},
        ).result_rows
        return [SeriesInfo(m, v, int(c)) for m, v, c in rows]

    def read_points(
        self, workspace: str, experiment_id: str, metric: str, variant: str, after: int | None, limit: int
    ) -> tuple[list[int], list[float], list[float]]:
        params: dict[str, Any] = {"ws": workspace, "exp": experiment_id, "metric": metric, "variant": variant,
                                  "after": -1 if after is None else after, "limit": limit}  # fmt: skip
        cols = self.client.query(
            f"SELECT iteration, value, ts FROM scalars WHERE {_SERIES_WHERE} AND iteration > {{after:Int64}}"
            " ORDER BY iteration LIMIT {limit:UInt32}",
            parameters=params,
        ).result_columns
        if not cols:
            return [], [], []
        return list(cols[0]), list(cols[1]), list(cols[2])

    def delete_experiment(self, workspace: str, experiment_id: str, position: int = 0) -> None:
        if position:
            self._insert("experiment_clears", [[workspace, experiment_id, position]],
                         ["workspace", "experiment_id", "position"])  # fmt: skip
        for table in ("scalars", "scalar_blocks", "console", "plots", "debug_samples"):
            self.client.command(
                f"DELETE FROM {local_table(table, self.cluster)}"
                " WHERE workspace = {ws:String} AND experiment_id = {exp:String}",
                parameters={"ws": workspace, "exp": experiment_id},
            )

    def cleared(self, experiments: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not experiments:
            return {}
        rows = self.client.query(
            "SELECT workspace, experiment_id, max(position) FROM experiment_clears"
            " WHERE (workspace, experiment_id) IN {keys:Array(Tuple(String, String))}"
            " GROUP BY workspace, experiment_id",
            parameters={"keys": sorted(experiments)},
        ).result_rows
        return {(w, e): int(p) for w, e, p in rows}

    # -- console ----------------------------------------------------------------------------------
    def insert_console(
        self, workspace: str, experiment_id: str, seq: int, event_id: str, lines: ConsoleColumns
    ) -> None:
        self.insert_console_many([ConsoleEvent(workspace, experiment_id, seq, event_id, lines)], token=event_id)

    def insert_console_many(self, events: Sequence[ConsoleEvent], token: str) -> None:
        self._insert_console(events, {"insert_deduplication_token": token})

    def settle_console(self, event: ConsoleEvent) -> int:
        if self.cluster or not len(event.lines):
            return 0
        first = console_cursor(event.seq, 0)
        params = {"ws": event.workspace, "exp": event.experiment_id, "a": first, "b": first + len(event.lines) - 1}
        mine = "workspace = {ws:String} AND experiment_id = {exp:String} AND cursor BETWEEN {a:UInt64} AND {b:UInt64}"
        row = self.client.query(f"SELECT count() FROM console WHERE {mine}", parameters=params).first_row
        stored = int(row[0]) if row else 0
        if stored == len(event.lines):
            return 0
        if stored:
            self.client.command(f"DELETE FROM console WHERE {mine}", parameters=params)
        self._insert_console([event], _fresh(event.event_id))
        log.warning("metrics.settled_console", event_id=event.event_id, restored_lines=len(event.lines))
        return len(event.lines)

    def _insert_console(self, events: Sequence[ConsoleEvent], settings: dict[str, Any]) -> None:
        parts = [e for e in events if len(e.lines)]
        if not parts:
            return
        data: list[Any] = [
            [e.workspace for e in parts for _ in range(len(e.lines))],
            [e.experiment_id for e in parts for _ in range(len(e.lines))],
            np.concatenate(
                [np.uint64(console_cursor(e.seq, 0)) + np.arange(len(e.lines), dtype=np.uint64) for e in parts]
            ),
            np.concatenate([e.lines.timestamps for e in parts]),
            np.concatenate([e.lines.levels for e in parts]),
            np.concatenate([e.lines.sources for e in parts]),
            [text for e in parts for text in e.lines.text],
        ]
        self._insert(
            "console",
            data,
            ["workspace", "experiment_id", "cursor", "ts", "level", "source", "text"],
            column_oriented=True,
            settings=settings,
        )

    def read_console(
        self, workspace: str, experiment_id: str, after: int, limit: int, tail: bool, search: str
    ) -> tuple[list[ConsoleLine], bool, int]:
        params: dict[str, Any] = {"ws": workspace, "exp": experiment_id, "after": after, "limit": limit + 1,
                                  "search": search}  # fmt: skip
        where = "workspace = {ws:String} AND experiment_id = {exp:String}"
        if search:
            where += " AND positionCaseInsensitiveUTF8(text, {search:String}) > 0"
        total_row = self.client.query(f"SELECT count() FROM console WHERE {where}", parameters=params).first_row
        total = int(total_row[0]) if total_row else 0
        if tail:
            rows = self.client.query(
                f"SELECT cursor, ts, level, source, text FROM console WHERE {where}"
                " ORDER BY cursor DESC LIMIT {limit:UInt32}",
                parameters={**params, "limit": limit},
            ).result_rows[::-1]
            return [ConsoleLine(*r) for r in rows], False, total
        rows = self.client.query(
            f"SELECT cursor, ts, level, source, text FROM console WHERE {where} AND cursor > {{after:UInt64}}"
            " ORDER BY cursor LIMIT {limit:UInt32}",
            parameters=params,
        ).result_rows
        return [ConsoleLine(*r) for r in rows[:limit]], len(rows) > limit, total

    # -- plots ------------------------------------------------------------------------------------
    def insert_plot(
        self,
        workspace: str,
        experiment_id: str,
        seq: int,
        plot: events_pb2.PlotReported,
        ts: float,
        again: bool = False,
    ) -> None:
        self._insert(
            "plots",
            [
                [
                    workspace,
                    experiment_id,
                    plot.metric,
                    plot.variant,
                    plot.iteration,
                    plot.kind,
                    plot.figure_json,
                    ts,
                    seq,
                ]
            ],
            [
                "workspace",
                "experiment_id",
                "metric",
                "variant",
                "iteration",
                "kind",
                "figure",
                "ts",
                "seq",
            ],
            settings=_fresh(f"{experiment_id}.{seq}") if again else {},
        )

    def _series_filter(self, metric: str, variant: str) -> str:
        where = "workspace = {ws:String} AND experiment_id = {exp:String}"
        if metric:
            where += " AND metric = {metric:String}"
        if variant:
            where += " AND variant = {variant:String}"
        return where

    def get_plots(
        self, workspace: str, experiment_id: str, metric: str, variant: str, iteration: int | None, history: int = 0
    ) -> list[PlotRow]:
        history = min(max(history, 0), MAX_PLOT_HISTORY)
        params: dict[str, Any] = {"ws": workspace, "exp": experiment_id, "metric": metric, "variant": variant,
                                  "it": iteration or 0, "keep": MAX_PLOT_ITERATIONS, "history": history}  # fmt: skip
        where = self._series_filter(metric, variant)
        stored = {
            (m, v): (int(n), tuple(int(i) for i in its))
            for m, v, n, its in self.client.query(
                "SELECT metric, variant, uniqExact(iteration),"
                " arraySlice(arraySort(groupUniqArray(iteration)), -{keep:UInt32})"
                f" FROM plots WHERE {where} GROUP BY metric, variant",
                parameters=params,
            ).result_rows
        }
        if history:  # one row per iteration: the newest ``history`` of them, oldest first
            sql = (
                "SELECT * FROM (SELECT * FROM (SELECT metric, variant, iteration, kind, figure, ts FROM plots"
                f" WHERE {where} ORDER BY metric, variant, iteration DESC, seq DESC"
                " LIMIT 1 BY metric, variant, iteration)"
                " ORDER BY metric, variant, iteration DESC LIMIT {history:UInt32} BY metric, variant)"
                " ORDER BY metric, variant, iteration"
            )
        else:
            at = " AND iteration = {it:Int64}" if iteration is not None else ""
            sql = (
                f"SELECT metric, variant, iteration, kind, figure, ts FROM plots WHERE {where}{at}"
                " ORDER BY metric, variant, iteration DESC, seq DESC LIMIT 1 BY metric, variant"
            )
        out = []
        for m, v, i, k, f, t in self.client.query(sql, parameters=params).result_rows:
            count, its = stored.get((m, v), (0, ()))
            out.append(PlotRow(m, v, int(i), k, f, float(t), count, its))
        return out

    # -- debug samples ------------------------------------------------------------------------------
    def insert_sample(
        self,
        workspace: str,
        experiment_id: str,
        seq: int,
        sample: events_pb2.DebugSample,
        ts: float,
        again: bool = False,
    ) -> None:
        f = sample.file
        self._insert(
            "debug_samples",
            [[workspace, experiment_id, sample.metric, sample.variant, sample.iteration, sample.kind,
              f.key, f.size, f.sha256, f.content_type, ts, seq]],
            ["workspace", "experiment_id", "metric", "variant", "iteration", "kind",
             "key", "size", "sha256", "content_type", "ts", "seq"],
            settings=_fresh(f"{experiment_id}.{seq}") if again else {},
        )  # fmt: skip

    def get_samples(
        self, workspace: str, experiment_id: str, metric: str, variant: str, iteration: int | None, keep_last: int
    ) -> list[SampleRow]:
        """Per metric/variant: the sample at ``iteration`` (else the latest), with its stored
        neighbours. Only the newest ``keep_last`` iterations still have their objects."""
        params: dict[str, Any] = {"ws": workspace, "exp": experiment_id, "metric": metric, "variant": variant,
                                  "keep": keep_last}  # fmt: skip
        where = self._series_filter(metric, variant)
        window: dict[tuple[str, str], list[int]] = {}
        for m, v, its in self.client.query(
            f"SELECT metric, variant, arraySort(groupArray(iteration)) FROM"
            f" (SELECT DISTINCT metric, variant, iteration FROM debug_samples WHERE {where}"
            "  ORDER BY iteration DESC LIMIT {keep:UInt32} BY metric, variant)"
            " GROUP BY metric, variant ORDER BY metric, variant",
            parameters=params,
        ).result_rows:
            window[(m, v)] = [int(i) for i in its]
        wanted: dict[tuple[str, str], int] = {}
        for series, its in window.items():
            if iteration is None:
                wanted[series] = its[-1]
            elif iteration in its:
                wanted[series] = iteration
        if not wanted:
            return []
        rows = self.client.query(
            f"SELECT metric, variant, iteration, kind, key, size, sha256, content_type, ts FROM debug_samples"
            f" WHERE {where} AND (metric, variant, iteration) IN {{wanted:Array(Tuple(String, String, Int64))}}"
            " ORDER BY metric, variant, seq DESC LIMIT 1 BY metric, variant",
            parameters={**params, "wanted": [(m, v, i) for (m, v), i in wanted.items()]},
        ).result_rows
        out = []
        for m, v, i, kind, key, size, sha, ctype, ts in rows:
            its = window[(m, v)]
            pos = its.index(int(i))
            out.append(
                SampleRow(
                    m,
                    v,
                    int(i),
                    kind,
                    key,
                    int(size),
                    sha,
                    ctype,
                    float(ts),
                    its[pos - 1] if pos > 0 else None,
                    its[pos + 1] if pos + 1 < len(its) else None,
                    len(its),
                    tuple(its),
                )
            )
        return out


def _range(query: SeriesQuery, x: str, params: dict[str, Any]) -> str:
    """The zoom's conditions (and their parameters, into ``params``). On iterations the range is
    on the column itself, the end of the primary key, so only its rows are read."""
    bound, kind = ("iteration", "Int64") if query.xaxis == "iter" else (x, "Float64")
    where = ""
    if query.x_min is not None:
        where += f" AND {bound} >= {{x_min:{kind}}}"
        params["x_min"] = math.ceil(query.x_min) if query.xaxis == "iter" else query.x_min
    if query.x_max is not None:
        where += f" AND {bound} <= {{x_max:{kind}}}"
        params["x_max"] = math.floor(query.x_max) if query.xaxis == "iter" else query.x_max
    return where


def _key(q: SeriesQuery) -> Key:
    return (q.workspace, q.experiment_id, q.metric, q.variant)


def _add(r: SeriesResult, x: float, lo: float, hi: float, mean: float, last: float, n: int) -> None:
    """One more bucket (or point) at the end of ``r``."""
    r.x.append(x)
    r.min.append(lo)
    r.max.append(hi)
    r.mean.append(mean)
    r.last.append(last)
    r.count.append(n)


def migration_files() -> list[Any]:
    """The ``migrations/NNNN_*.sql`` files, in order."""
    files = resources.files("services.metrics.migrations").iterdir()
    return sorted((f for f in files if f.name.endswith(".sql")), key=lambda f: f.name)


def migrate(client: Client, cluster: str = "") -> list[str]:
    """Applies the versioned ``migrations/NNNN_*.sql`` files not applied yet, in order; on a
    cluster, as replicated and distributed tables (``services.common.clickhouse_cluster``)."""
    for statement in cluster_statements(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version String, applied_at Float64)"
        " ENGINE = MergeTree ORDER BY version",
        cluster,
    ):
        client.command(statement)
    done = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    applied = []
    for file in migration_files():
        version = file.name.removesuffix(".sql")
        if version in done:
            continue
        for sql in file.read_text().split(";\n"):
            for statement in cluster_statements(sql, cluster) if sql.strip() else []:
                client.command(statement)
        client.insert("schema_migrations", [[version, time.time()]], column_names=["version", "applied_at"])
        applied.append(version)
    return applied


def _fresh(label: str) -> dict[str, Any]:
    """The settings of an insert that must not be deduplicated against anything before it (an
    event stored again whose token, or whose rows' hash, may be all that is left of it): a token
    of its own. A setting that turns deduplication off is spelled differently across ClickHouse
    releases (``insert_deduplicate``, ``deduplicate_insert``); a token is honoured by all."""
    return {"insert_deduplication_token": f"{label}:again:{uuid.uuid4().hex}"}
