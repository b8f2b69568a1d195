"""MetricsService over gRPC: protobuf <-> domain, calls into the store on its executor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import grpc
from tracklane_proto import metrics_pb2, metrics_pb2_grpc

from services.metrics.domain import DEFAULT_SAMPLES, SeriesQuery, SeriesResult
from services.metrics.store import ScalarStore

MAX_PAGE_POINTS = 500_000
MAX_CONSOLE_PAGE = 10_000
# Debug samples kept per metric/variant (the artifact service deletes older objects).
DEFAULT_KEEP_SAMPLES = 100
T = TypeVar("T")
_XAXIS = {metrics_pb2.X_AXIS_ITER: "iter", metrics_pb2.X_AXIS_RELATIVE: "relative", metrics_pb2.X_AXIS_WALL: "wall"}


class MetricsApi(metrics_pb2_grpc.MetricsServiceServicer):
    def __init__(self, store: ScalarStore, executor: Executor, keep_samples: int = DEFAULT_KEEP_SAMPLES) -> None:
        self.store = store
        self.executor = executor
        self.keep_samples = keep_samples

    async def QueryScalars(  # noqa: N802 (gRPC method name)
        self, request: metrics_pb2.ScalarQuery, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ScalarSeries:
        query = await _series_query(request, context)
        return _series_message(await self._run(self.store.query_series, query))

    async def QueryChart(  # noqa: N802
        self, request: metrics_pb2.ChartQuery, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ChartSeries:
        [chart] = await _chart_queries([request], context)
        [answer] = await self._run(self.store.query_charts, [chart])
        return _chart_message(*answer)

    async def QueryCharts(  # noqa: N802
        self, request: metrics_pb2.ChartsQuery, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ChartsAnswer:
        if not 1 <= len(request.charts) <= MAX_CHARTS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"charts: 1 to {MAX_CHARTS} per call")
        charts = await _chart_queries(list(request.charts), context)
        answers = await self._run(self.store.query_charts, charts)
        return metrics_pb2.ChartsAnswer(charts=[_chart_message(*a) for a in answers])

    async def ListSeries(  # noqa: N802
        self, request: metrics_pb2.ListSeriesRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ListSeriesResponse:
        series = await self._run(self.store.list_series, request.workspace, request.experiment_id)
        return metrics_pb2.ListSeriesResponse(
            series=[metrics_pb2.SeriesInfo(metric=s.metric, variant=s.variant, points=s.points) for s in series]
        )

    async def ReadPoints(  # noqa: N802
        self, request: metrics_pb2.ReadPointsRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.PointPage:
        limit = await _limit(request.limit, 100_000, MAX_PAGE_POINTS, context)
        after = request.after_iteration if request.HasField("after_iteration") else None
        its, values, ts = await self._run(
            self.store.read_points,
            request.workspace, request.experiment_id, request.metric, request.variant, after, limit + 1,
        )  # fmt: skip
        more = len(its) > limit
        return metrics_pb2.PointPage(iterations=its[:limit], values=values[:limit], timestamps=ts[:limit], more=more)

    async def ReadConsole(  # noqa: N802
        self, request: metrics_pb2.ConsoleRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ConsolePage:
        limit = await _limit(request.limit, 1000, MAX_CONSOLE_PAGE, context)
        lines, more, total = await self._run(
            self.store.read_console,
            request.workspace, request.experiment_id, request.after, limit, request.tail, request.search,
        )  # fmt: skip
        return metrics_pb2.ConsolePage(
            lines=[
                metrics_pb2.ConsoleLine(cursor=ln.cursor, ts=ln.ts, level=ln.level, source=ln.source, text=ln.text)
                for ln in lines
            ],
            more=more,
            total=total,
        )

    async def GetPlots(  # noqa: N802
        self, request: metrics_pb2.PlotsRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.PlotsResponse:
        iteration = request.iteration if request.HasField("iteration") else None
        rows = await self._run(
            self.store.get_plots,
            request.workspace,
            request.experiment_id,
            request.metric,
            request.variant,
            iteration,
            request.history,
        )
        return metrics_pb2.PlotsResponse(
            plots=[
                metrics_pb2.Plot(
                    metric=r.metric,
                    variant=r.variant,
                    iteration=r.iteration,
                    kind=r.kind,
                    figure_json=r.figure_json,
                    ts=r.ts,
                    iterations=r.iterations,
                    stored_iterations=r.stored_iterations,
                )
                for r in rows
            ]
        )

    async def GetDebugSamples(  # noqa: N802
        self, request: metrics_pb2.DebugSamplesRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.DebugSamplesResponse:
        iteration = request.iteration if request.HasField("iteration") else None
        rows = await self._run(
            self.store.get_samples,
            request.workspace, request.experiment_id, request.metric, request.variant, iteration,
            request.keep_last or self.keep_samples,
        )  # fmt: skip
        out = metrics_pb2.DebugSamplesResponse()
        for r in rows:
            entry = out.samples.add(
                metric=r.metric, variant=r.variant, iteration=r.iteration, kind=r.kind, key=r.key, size=r.size,
                sha256=r.sha256, content_type=r.content_type, ts=r.ts, iterations=r.iterations,
                stored_iterations=r.stored_iterations,
            )  # fmt: skip
            if r.previous_iteration is not None:
                entry.previous_iteration = r.previous_iteration
            if r.next_iteration is not None:
                entry.next_iteration = r.next_iteration
        return out

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)


async def _limit(requested: int, default: int, maximum: int, context: grpc.aio.ServicerContext) -> int:
    if requested > maximum:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"limit: at most {maximum}")
    return requested or default


MAX_CHART_SERIES = 100
MAX_CHARTS = 50  # a page of charts in one call
MAX_CHARTS_SERIES = 500  # the series of all of them


async def _chart_queries(
    charts: list[metrics_pb2.ChartQuery], context: grpc.aio.ServicerContext
) -> list[list[SeriesQuery]]:
    """The charts' series, checked: 1 to 100 per chart, 500 in all; the same xaxis, samples and
    range throughout (one statement buckets them all); a series in one chart only."""
    if any(not 1 <= len(c.series) <= MAX_CHART_SERIES for c in charts):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"series: 1 to {MAX_CHART_SERIES} per chart")
    every = [q for c in charts for q in c.series]
    if len(every) > MAX_CHARTS_SERIES:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"series: at most {MAX_CHARTS_SERIES} in all charts")
    first = every[0]
    same = ("xaxis", "samples", "x_min", "x_max")
    for q in every:
        if any(q.HasField(f) != first.HasField(f) for f in ("x_min", "x_max")) or any(
            getattr(q, f) != getattr(first, f) for f in same
        ):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "series: the charts' series share xaxis, samples and range"
            )
    keys = {(q.workspace, q.experiment_id, q.metric, q.variant) for q in every}
    if len(keys) < len(every):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "series: each series once, in one chart")
    return [[await _series_query(q, context) for q in c.series] for c in charts]


def _chart_message(results: list[SeriesResult], grid: tuple[float, float] | None) -> metrics_pb2.ChartSeries:
    return metrics_pb2.ChartSeries(
        series=[_series_message(r) for r in results],
        shared_grid=grid is not None,
        grid_lo=grid[0] if grid else 0.0,
        grid_width=grid[1] if grid else 0.0,
    )


async def _series_query(request: metrics_pb2.ScalarQuery, context: grpc.aio.ServicerContext) -> SeriesQuery:
    try:
        return SeriesQuery(
            workspace=request.workspace,
            experiment_id=request.experiment_id,
            metric=request.metric,
            variant=request.variant,
            xaxis=_XAXIS.get(request.xaxis, "?"),
            samples=request.samples or DEFAULT_SAMPLES,
            x_min=request.x_min if request.HasField("x_min") else None,
            x_max=request.x_max if request.HasField("x_max") else None,
        )
    except ValueError as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise  # abort raises; this line only tells the type checker


def _series_message(result: SeriesResult) -> metrics_pb2.ScalarSeries:
    return metrics_pb2.ScalarSeries(
        metric=result.metric,
        variant=result.variant,
        total_points=result.total_points,
        downsampled=result.downsampled,
        x=result.x,
        min=result.min,
        max=result.max,
        mean=result.mean,
        last=result.last,
        count=result.count,
    )
