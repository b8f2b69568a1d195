"""Reading experiments: the table, one experiment, its scalars, and several side by side."""

from __future__ import annotations

import asyncio
import json

from tracklane_proto import metadata_pb2, metrics_pb2

from gateway import clients, views
from gateway import schemas as s
from gateway.errors import ApiError
from gateway.state import GatewayState
from services.common.auth import Principal
from services.common.contract import EXPERIMENT_ID

MAX_SERIES_PER_REQUEST = 100
MAX_CHART_SERIES_IN_ALL = 500  # the series of one call of /scalars/charts
MAX_COMPARE = 10


def require_workspace(who: Principal) -> None:
    """A listing without a key names the workspace whose public projects it reads."""
    if who.anonymous and not who.workspace:
        raise ApiError(
            401, "unauthenticated",
            "missing API key: send 'authorization: Bearer <key>', or name a workspace (?workspace=…) "
            "to read its public projects",
            "Authorization",
        )  # fmt: skip


def table_request(who: Principal, q: s.ExperimentQuery | s.ExportQuery) -> metadata_pb2.ListExperimentsRequest:
    return metadata_pb2.ListExperimentsRequest(
        workspace=who.workspace,
        project=q.project,
        filter=q.filter,
        order_by=q.order_by,
        public_only=who.anonymous,
    )


async def list_experiments(st: GatewayState, who: Principal, q: s.ExperimentQuery) -> s.ExperimentPage:
    require_workspace(who)
    request = table_request(who, q)
    request.page, request.page_size = q.page, q.page_size
    request.archived, request.deleted = q.archived, q.deleted
    request.columns, request.group_by = q.columns, q.group_by
    resp = await st.metadata.ListExperiments(request, timeout=10)
    page = s.ExperimentPage(
        experiments=[views.experiment(e) for e in resp.experiments],
        total=resp.total,
        page=q.page,
        page_size=q.page_size,
    )
    if q.group_by:
        page.groups = [s.Group(value=json.loads(g.value_json), count=g.count) for g in resp.groups]
    return page


async def columns(st: GatewayState, who: Principal, q: s.ColumnQuery) -> s.Columns:
    require_workspace(who)
    resp = await st.metadata.ListColumns(
        metadata_pb2.ListColumnsRequest(workspace=who.workspace, project=q.project, public_only=who.anonymous),
        timeout=10,
    )
    return s.Columns(identifiers=list(resp.identifiers), truncated=resp.truncated)


async def get_experiment(st: GatewayState, who: Principal, experiment_id: str) -> s.Experiment:
    return views.experiment(await clients.experiment(st, who, experiment_id))


def _zoom(query: metrics_pb2.ScalarQuery, x_min: float | None, x_max: float | None) -> None:
    """A range given backwards (a drag from right to left) is the same range."""
    for name, value in (("x_min", x_min), ("x_max", x_max)):
        if value is not None and (value != value or value in (float("inf"), float("-inf"))):
            raise ApiError(400, "invalid_argument", f"{name} must be finite", name)
    if x_min is not None and x_max is not None and x_min > x_max:
        x_min, x_max = x_max, x_min
    if x_min is not None:
        query.x_min = x_min
    if x_max is not None:
        query.x_max = x_max


def _one(base: metrics_pb2.ScalarQuery, metric: str, variant: str) -> metrics_pb2.ScalarQuery:
    """``base`` (axis, buckets, zoom, experiment) for one series."""
    query = metrics_pb2.ScalarQuery()
    query.CopyFrom(base)
    query.metric, query.variant = metric, variant
    return query


async def scalars(st: GatewayState, who: Principal, experiment_id: str, q: s.ScalarQuery) -> s.Scalars:
    """Series of one experiment, each downsampled to ``samples`` buckets with min/max/mean/last
    (or at full resolution when it has fewer points); ``metric``/``variant`` narrow them and
    ``x_min``/``x_max`` zoom into a range."""
    base = metrics_pb2.ScalarQuery(xaxis=clients.XAXIS[q.xaxis], samples=q.samples)
    _zoom(base, q.x_min, q.x_max)
    experiment = await clients.experiment(st, who, experiment_id)  # 404 unless readable
    base.workspace, base.experiment_id = experiment.workspace, experiment_id
    listing = await st.metrics.ListSeries(
        metrics_pb2.ListSeriesRequest(workspace=experiment.workspace, experiment_id=experiment_id), timeout=10
    )
    wanted = [
        x
        for x in listing.series
        if (q.metric is None or x.metric == q.metric) and (q.variant is None or x.variant == q.variant)
    ][:MAX_SERIES_PER_REQUEST]

    by_metric: dict[str, list[metrics_pb2.ScalarQuery]] = {}
    for x in wanted:  # a chart per metric: its variants share one bucket grid
        by_metric.setdefault(x.metric, []).append(_one(base, x.metric, x.variant))
    charts = await asyncio.gather(
        *(st.metrics.QueryChart(metrics_pb2.ChartQuery(series=qs), timeout=30) for qs in by_metric.values())
    )
    series = [views.series(r) for chart in charts for r in chart.series]
    return s.Scalars(experiment_id=experiment_id, xaxis=q.xaxis, samples=q.samples, series=series)


async def charts(st: GatewayState, who: Principal, experiment_id: str, q: s.ChartsQuery) -> s.Charts:
    """A page of charts at once — each a metric (its variants on one bucket grid) or one
    metric/variant (its own buckets) — in one call to the metrics service. The series come from
    the experiment's metric summaries (the charts the UI shows are those), not from a listing."""
    base = metrics_pb2.ScalarQuery(xaxis=clients.XAXIS[q.xaxis], samples=q.samples)
    _zoom(base, q.x_min, q.x_max)
    experiment = await clients.experiment(st, who, experiment_id)  # 404 unless readable
    base.workspace, base.experiment_id = experiment.workspace, experiment_id
    variants: dict[str, list[str]] = {}
    for m in experiment.metrics:
        variants.setdefault(m.metric, []).append(m.variant)
    asked: list[list[str]] = []
    seen: set[tuple[str, str]] = set()
    for i, chart in enumerate(q.charts):
        mine = sorted(variants.get(chart.metric, []))
        if chart.variant is not None:
            mine = [chart.variant] if chart.variant in mine else []
        if any((chart.metric, v) in seen for v in mine):
            raise ApiError(400, "invalid_argument", "each series in one chart only", f"charts[{i}]")
        seen.update((chart.metric, v) for v in mine)
        asked.append(mine)
    if len(seen) > MAX_CHART_SERIES_IN_ALL:
        message = f"{len(seen)} series; at most {MAX_CHART_SERIES_IN_ALL} in one call: ask for fewer charts"
        raise ApiError(400, "invalid_argument", message, "charts")

    wanted = [(chart, mine) for chart, mine in zip(q.charts, asked, strict=True) if mine]
    answers: list[metrics_pb2.ChartSeries] = []
    if wanted:
        charts = [metrics_pb2.ChartQuery(series=[_one(base, c.metric, v) for v in mine]) for c, mine in wanted]
        answers = list((await st.metrics.QueryCharts(metrics_pb2.ChartsQuery(charts=charts), timeout=30)).charts)
    found = iter(answers)
    return s.Charts(
        experiment_id=experiment_id,
        xaxis=q.xaxis,
        samples=q.samples,
        charts=[
            s.ChartSeries(
                metric=c.metric,
                variant=c.variant,
                series=[views.series(r) for r in next(found).series] if mine else [],
            )
            for c, mine in zip(q.charts, asked, strict=True)
        ],
    )


def compare_ids(raw: str) -> list[str]:
    """The ids, each once, in the order given (a repeated id counts once)."""
    ids = list(dict.fromkeys(i for i in raw.split(",") if i))
    if len(raw.split(",")) < 2 or len(ids) > MAX_COMPARE:
        raise ApiError(
            400, "invalid_argument", f"ids: 2 to {MAX_COMPARE} different experiment ids, comma-separated", "ids"
        )
    if bad := next((i for i in ids if not EXPERIMENT_ID.match(i)), None):
        raise ApiError(404, "not_found", f"experiment {bad} not found", "ids")
    return ids


async def compare(st: GatewayState, who: Principal, q: s.CompareQuery) -> s.Comparison:
    """2 to 10 experiments side by side: details, each metric's last/min/max per experiment, and
    with ``metric`` and ``variant`` their series overlaid on one x-axis."""
    ids = compare_ids(q.ids)
    experiments = await asyncio.gather(*(clients.experiment(st, who, i) for i in ids))
    metrics: dict[tuple[str, str], s.ComparedMetric] = {}
    for exp in experiments:
        for m in exp.metrics:
            row = metrics.setdefault(
                (m.metric, m.variant), s.ComparedMetric(metric=m.metric, variant=m.variant, values={})
            )
            row.values[exp.id] = s.SummaryValues(
                last=views.real(m.last), min=views.real(m.min), max=views.real(m.max), last_iteration=m.last_iteration
            )
    out = s.Comparison(
        experiments=[views.experiment(e) for e in experiments], metrics=[metrics[k] for k in sorted(metrics)]
    )
    if q.metric is not None:
        variant = q.metric if q.variant is None else q.variant  # as in the filter language: loss = loss/loss
        chart = await st.metrics.QueryChart(
            metrics_pb2.ChartQuery(
                series=[
                    metrics_pb2.ScalarQuery(
                        workspace=e.workspace,
                        experiment_id=e.id,
                        metric=q.metric,
                        variant=variant,
                        xaxis=clients.XAXIS[q.xaxis],
                        samples=q.samples,
                    )
                    for e in experiments
                ]
            ),
            timeout=30,
        )  # fmt: skip — the runs on one bucket grid, whatever their lengths
        series = list(chart.series)
        out.scalars = [
            s.ComparedSeries(
                experiment_id=e.id, name=e.name, total_points=r.total_points, x=list(r.x), min=views.reals(r.min),
                max=views.reals(r.max), mean=views.reals(r.mean), last=views.reals(r.last),
            )
            for e, r in zip(experiments, series, strict=True)
        ]  # fmt: skip
    return out
