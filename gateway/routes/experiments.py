"""``/api/v1/experiments``: the experiment table, one experiment, and its scalars."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tracklane.pb import metadata_pb2, metrics_pb2

from gateway.errors import ApiError
from gateway.params import choice_param, float_param, int_param
from gateway.respond import etag_json
from gateway.state import experiment_request, reader, state
from services.ingestion.domain import EXPERIMENT_ID
from services.metadata.domain import STATUS_NAMES

_XAXIS = {"iter": metrics_pb2.X_AXIS_ITER, "relative": metrics_pb2.X_AXIS_RELATIVE, "wall": metrics_pb2.X_AXIS_WALL}
MAX_SERIES_PER_REQUEST = 100


def experiment_json(e: metadata_pb2.Experiment) -> dict[str, Any]:
    return {
        "id": e.id,
        "project": e.project,
        "name": e.name,
        "tags": list(e.tags),
        "user": e.user,
        "status": STATUS_NAMES.get(e.status, "unspecified"),
        "status_reason": e.status_reason,
        "description": e.description,
        "archived": e.archived,
        "published": e.published,
        "deleted": e.deleted,
        "stop_requested": e.stop_requested,
        "last_seen": e.last_seen or None,
        "created_at": e.created_at,
        "started_at": e.started_at,
        "updated_at": e.updated_at,
        "ended_at": e.ended_at or None,
        "metrics": [
            {
                "metric": m.metric,
                "variant": m.variant,
                "last": m.last,
                "min": m.min,
                "max": m.max,
                "last_iteration": m.last_iteration,
            }
            for m in e.metrics
        ],
        **({"columns": {k: json.loads(v) for k, v in e.columns.items()}} if e.columns else {}),
    }


def _experiment_id(request: Request) -> str:
    value: str = request.path_params["experiment_id"]
    if not EXPERIMENT_ID.match(value):
        raise ApiError(404, "not_found", f"experiment {value} not found", "experiment_id")
    return value


async def _get(request: Request, experiment_id: str) -> metadata_pb2.Experiment:
    who = await reader(request)
    experiment: metadata_pb2.Experiment = await state(request).metadata.GetExperiment(
        experiment_request(who, experiment_id), timeout=10
    )
    return experiment


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
            filter=_text(request, "filter"),
            order_by=_text(request, "order_by"),
            columns=_text(request, "columns"),
            group_by=_text(request, "group_by"),
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


MAX_QUERY_PARAM = 4096


def _text(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if len(value) > MAX_QUERY_PARAM:
        raise ApiError(400, "invalid_argument", f"{name}: at most {MAX_QUERY_PARAM} characters", name)
    return value


async def get_experiment(request: Request) -> Response:
    return etag_json(request, experiment_json(await _get(request, _experiment_id(request))))


async def scalars(request: Request) -> Response:
    """Series of one experiment, each downsampled to ``samples`` buckets with min/max/mean/last
    (or at full resolution when it has fewer points). ``metric`` and ``variant`` narrow the
    series; ``x_min``/``x_max`` zoom into a range."""
    experiment_id = _experiment_id(request)
    experiment = await _get(request, experiment_id)  # 404 unless it is the caller's
    xaxis = choice_param(request, "xaxis", "iter", tuple(_XAXIS))
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
            xaxis=_XAXIS[xaxis],
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
