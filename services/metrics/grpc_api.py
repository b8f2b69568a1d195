"""MetricsService over gRPC: protobuf <-> domain, calls into the store on its executor."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

import grpc
from tracklane.pb import metrics_pb2, metrics_pb2_grpc

from services.metrics.domain import DEFAULT_SAMPLES, SeriesQuery
from services.metrics.store import ScalarStore

MAX_PAGE_POINTS = 500_000
_XAXIS = {metrics_pb2.X_AXIS_ITER: "iter", metrics_pb2.X_AXIS_RELATIVE: "relative", metrics_pb2.X_AXIS_WALL: "wall"}


class MetricsApi(metrics_pb2_grpc.MetricsServiceServicer):
    def __init__(self, store: ScalarStore, executor: Executor) -> None:
        self.store = store
        self.executor = executor

    async def QueryScalars(  # noqa: N802 (gRPC method name)
        self, request: metrics_pb2.ScalarQuery, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ScalarSeries:
        try:
            query = SeriesQuery(
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
        result = await asyncio.get_running_loop().run_in_executor(self.executor, self.store.query_series, query)
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

    async def ListSeries(  # noqa: N802
        self, request: metrics_pb2.ListSeriesRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.ListSeriesResponse:
        series = await asyncio.get_running_loop().run_in_executor(
            self.executor, self.store.list_series, request.workspace, request.experiment_id
        )
        return metrics_pb2.ListSeriesResponse(
            series=[metrics_pb2.SeriesInfo(metric=s.metric, variant=s.variant, points=s.points) for s in series]
        )

    async def ReadPoints(  # noqa: N802
        self, request: metrics_pb2.ReadPointsRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.PointPage:
        limit = request.limit or 100_000
        if limit > MAX_PAGE_POINTS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"limit: at most {MAX_PAGE_POINTS}")
        after = request.after_iteration if request.HasField("after_iteration") else None
        its, values, ts = await asyncio.get_running_loop().run_in_executor(
            self.executor,
            self.store.read_points,
            request.workspace, request.experiment_id, request.metric, request.variant, after, limit + 1,
        )  # fmt: skip
        more = len(its) > limit
        return metrics_pb2.PointPage(iterations=its[:limit], values=values[:limit], timestamps=ts[:limit], more=more)
