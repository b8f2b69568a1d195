"""``/api/v1/compare?ids=a,b,c``: 2 to 10 experiments side by side — their details, each
metric's last/min/max per experiment, and (with ``metric`` and ``variant``) overlaid scalars."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tracklane_proto import metrics_pb2

from gateway import clients
from gateway.clients import XAXIS
from gateway.errors import ApiError
from gateway.params import choice_param, int_param
from gateway.respond import etag_json
from gateway.state import reader, state
from gateway.views import experiment_json
from services.common.contract import EXPERIMENT_ID

MAX_COMPARE = 10


async def compare(request: Request) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not 2 <= len(ids) <= MAX_COMPARE or len(set(ids)) != len(ids):
        raise ApiError(
            400, "invalid_argument", f"ids: 2 to {MAX_COMPARE} different experiment ids, comma-separated", "ids"
        )
    if bad := next((i for i in ids if not EXPERIMENT_ID.match(i)), None):
        raise ApiError(404, "not_found", f"experiment {bad} not found", "ids")
    who = await reader(request)
    st = state(request)
    experiments = await asyncio.gather(*(clients.experiment(st, who, i) for i in ids))
    metrics: dict[tuple[str, str], dict[str, Any]] = {}
    for exp in experiments:
        for m in exp.metrics:
            row = metrics.setdefault((m.metric, m.variant), {"metric": m.metric, "variant": m.variant, "values": {}})
            row["values"][exp.id] = {"last": m.last, "min": m.min, "max": m.max, "last_iteration": m.last_iteration}
    body: dict[str, Any] = {
        "experiments": [experiment_json(e) for e in experiments],
        "metrics": [metrics[k] for k in sorted(metrics)],
    }
    metric, variant = request.query_params.get("metric"), request.query_params.get("variant")
    if metric is not None and variant is not None:
        xaxis = choice_param(request, "xaxis", "iter", tuple(XAXIS))
        samples = int_param(request, "samples", 1000, minimum=1, maximum=20_000)
        series = await asyncio.gather(
            *(
                st.metrics.QueryScalars(
                    metrics_pb2.ScalarQuery(
                        workspace=e.workspace,
                        experiment_id=e.id,
                        metric=metric,
                        variant=variant,
                        xaxis=XAXIS[xaxis],
                        samples=samples,
                    ),
                    timeout=30,
                )
                for e in experiments
            )
        )
        body["scalars"] = [
            {"experiment_id": e.id, "name": e.name, "total_points": s.total_points, "x": list(s.x),
             "min": list(s.min), "max": list(s.max), "mean": list(s.mean), "last": list(s.last)}
            for e, s in zip(experiments, series, strict=True)
        ]  # fmt: skip
    elif metric is not None or variant is not None:
        raise ApiError(400, "invalid_argument", "overlaid scalars need both metric and variant", "metric")
    return etag_json(request, body)


routes = [Route("/api/v1/compare", compare)]
