"""``/api/v1/experiments``: the experiment table, one experiment, and its scalars."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tracklane_proto import metadata_pb2, metrics_pb2

from gateway import clients
from gateway.clients import XAXIS
from gateway.errors import ApiError
from gateway.http import experiment_id_param, text_param
from gateway.params import choice_param, float_param, int_param
from gateway.respond import etag_json
from gateway.state import reader, state
from gateway.views import experiment_json

MAX_SERIES_PER_REQUEST = 100


async def list_experiments(request: Request) -> Response:
    who = await reader(request, needs_workspace=True)
    page = int_param(request, "page", 0, minimum=0, maximum=1_000_000)
    page_size = int_param(request, "page_size", 50, minimum=1, maximum=500)
    archived = choice_param(request, "archived", "false", ("false", "true")) == "true"
    deleted = choice_param(request, "deleted", "false", ("false", "true")) == "true"
    resp = await state(request).metadata.ListExperiments(
        metadata_pb2.ListExperimentsRequest(
            workspace=who.workspace,
            project=request.query_params.get("project", ""),
            page=page,
            page_size=page_size,
            archived=archived,
            deleted=deleted,
            filter=text_param(request, "filter"),
            order_by=text_param(request, "order_by"),
            columns=text_param(request, "columns"),
            group_by=text_param(request, "group_by"),
            public_only=who.anonymous,
        ),
        timeout=10,
    )
    body: dict[str, Any] = {
        "experiments": [experiment_json(e) for e in resp.experiments],
        "total": resp.total,
        "page": page,
        "page_size": page_size,
    }
    if request.query_params.get("group_by"):
        body["groups"] = [{"value": json.loads(g.value_json), "count": g.count} for g in resp.groups]
    return etag_json(request, body)


async def get_experiment(request: Request) -> Response:
    experiment = await clients.experiment(state(request), await reader(request), experiment_id_param(request))
    return etag_json(request, experiment_json(experiment))


async def scalars(request: Request) -> Response:
    """Series of one experiment, each downsampled to ``samples`` buckets with min/max/mean/last
    (or at full resolution when it has fewer points). ``metric`` and ``variant`` narrow the
    series; ``x_min``/``x_max`` zoom into a range."""
    experiment_id = experiment_id_param(request)
    experiment = await clients.experiment(state(request), await reader(request), experiment_id)  # 404 unless readable
    xaxis = choice_param(request, "xaxis", "iter", tuple(XAXIS))
    samples = int_param(request, "samples", 2000, minimum=1, maximum=20_000)
    x_min, x_max = float_param(request, "x_min"), float_param(request, "x_max")
    if x_min is not None and x_max is not None and x_min > x_max:
        raise ApiError(400, "invalid_argument", "x_min must not be greater than x_max", "x_min")
    metric, variant = request.query_params.get("metric"), request.query_params.get("variant")
    st = state(request)
    listing = await st.metrics.ListSeries(
        metrics_pb2.ListSeriesRequest(workspace=experiment.workspace, experiment_id=experiment_id), timeout=10
    )
    wanted = [
        s
        for s in listing.series
        if (metric is None or s.metric == metric) and (variant is None or s.variant == variant)
    ][:MAX_SERIES_PER_REQUEST]

    async def one(metric_name: str, variant_name: str) -> dict[str, Any]:
        query = metrics_pb2.ScalarQuery(
            workspace=experiment.workspace,
            experiment_id=experiment_id,
            metric=metric_name,
            variant=variant_name,
            xaxis=XAXIS[xaxis],
            samples=samples,
        )
        if x_min is not None:
            query.x_min = x_min
        if x_max is not None:
            query.x_max = x_max
        r = await st.metrics.QueryScalars(query, timeout=30)
        return {
            "metric": r.metric,
            "variant": r.variant,
            "total_points": r.total_points,
            "downsampled": r.downsampled,
            "x": list(r.x),
            "min": list(r.min),
            "max": list(r.max),
            "mean": list(r.mean),
            "last": list(r.last),
            "count": list(r.count),
        }

    series = await asyncio.gather(*(one(s.metric, s.variant) for s in wanted))
    return etag_json(request, {"experiment_id": experiment_id, "xaxis": xaxis, "samples": samples, "series": series})


routes = [
    Route("/api/v1/experiments", list_experiments),
    Route("/api/v1/experiments/{experiment_id}", get_experiment),
    Route("/api/v1/experiments/{experiment_id}/scalars", scalars),
]
