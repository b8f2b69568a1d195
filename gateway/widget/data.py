"""The data of a widget: which experiments it shows (ids, or a dynamic query evaluated now) and,
per ``type``, plotly charts or debug samples. The same JSON feeds the page and ``format=json``.

Every name that came from a user (experiment, metric, variant, parameter) is HTML-escaped before
it goes into a chart: plotly renders a subset of HTML in labels, and must see only text.
"""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any, TypeVar

import numpy as np
from tracklane_proto import events_pb2, metadata_pb2, metrics_pb2

from gateway import clients
from gateway.clients import XAXIS
from gateway.errors import ApiError
from gateway.state import GatewayState
from gateway.widget.spec import MD5, WidgetSpec, query_filter
from services.common.auth import Principal
from services.common.contract import STATUS_NAMES, name_hash

MAX_TRACES = 100
HOVER = "%{y:.6g} (min %{customdata[0]:.6g}, max %{customdata[1]:.6g})<extra>%{fullData.name}</extra>"
SAMPLES = 1000  # buckets per series: min/max/mean/last each, so no spike is lost
SINGLE_VALUE_METRIC = "Summary"  # where log_single_value puts its values, as ClearML does
_XTITLE = {"iter": "iteration", "relative": "seconds since start", "wall": ""}


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def _matches(name: str, wanted: tuple[str, ...]) -> bool:
    """No filter, the name itself, or (ClearML ids) its md5."""
    return not wanted or name in wanted or (name_hash(name) in wanted)


def _label(exp: metadata_pb2.Experiment, experiments: list[metadata_pb2.Experiment]) -> str:
    """The experiment's name, with a short id when two shown experiments share it."""
    twins = sum(1 for e in experiments if e.name == exp.name)
    return f"{exp.name} ({exp.id[:6]})" if twins > 1 else exp.name


async def experiments_of(st: GatewayState, who: Principal, spec: WidgetSpec) -> list[metadata_pb2.Experiment]:
    if spec.objects:
        ids = list(dict.fromkeys(o.partition(":")[0] for o in spec.objects))
        return list(await asyncio.gather(*(clients.experiment(st, who, i) for i in ids)))
    if who.anonymous and not who.workspace:
        raise ApiError(
            401, "unauthenticated",
            "a dynamic query without a token or key names the workspace of its public projects: add &workspace=…",
            "workspace",
        )  # fmt: skip
    q = spec.query
    resp = await st.metadata.ListExperiments(
        metadata_pb2.ListExperimentsRequest(
            workspace=who.workspace,
            project=q["project"],
            filter=query_filter(q),
            order_by=",".join(q["order_by"]),
            page=q["page"],
            page_size=q["page_size"],
            public_only=who.anonymous,
        ),
        timeout=10,
    )
    return list(resp.experiments)


async def _models(
    st: GatewayState, who: Principal, spec: WidgetSpec, exps: list[metadata_pb2.Experiment]
) -> dict[str, list[str]]:
    """objectType=model: the output models of each experiment (named ones only, for ids given as
    ``<experiment>:<model>``); experiments without any are dropped by the caller."""
    named: dict[str, set[str]] = {}
    for obj in spec.objects:
        exp_id, _, name = obj.partition(":")
        if name:
            named.setdefault(exp_id, set()).add(name)
    details = await asyncio.gather(*(clients.details(st, who, e.id) for e in exps))
    out = {}
    for exp, d in zip(exps, details, strict=True):
        names = [a.artifact.name for a in d.artifacts if a.artifact.kind == "model" and not a.artifact.input]
        if exp.id in named:
            missing = named[exp.id] - set(names)
            if missing:
                raise ApiError(404, "not_found", f"objects: no model {sorted(missing)[0]!r} in {exp.id}", "objects")
            names = [n for n in names if n in named[exp.id]]
        if names:
            out[exp.id] = names
    return out


async def build(st: GatewayState, who: Principal, spec: WidgetSpec) -> tuple[dict[str, Any], str]:
    """(the widget's data, the workspace it shows: the caller's, or for an anonymous reader by
    ids, that of the public experiments found)."""
    exps = await experiments_of(st, who, spec)
    models: dict[str, list[str]] = {}
    if spec.object_type == "model":
        models = await _models(st, who, spec, exps)
        exps = [e for e in exps if e.id in models]
    body: dict[str, Any] = {
        "type": spec.type,
        "object_type": spec.object_type,
        "experiments": [
            {"id": e.id, "name": e.name, "project": e.project, "status": _status(e), "models": models.get(e.id, [])}
            for e in exps
        ],
        "running": any(e.status == events_pb2.EXPERIMENT_STATUS_RUNNING for e in exps),
        "charts": [],
        "samples": [],
    }
    workspace = who.workspace or (exps[0].workspace if exps else "")
    if not exps:
        return body, workspace
    if spec.type == "scalar":
        body["charts"] = await _scalar_charts(st, spec, exps)
    elif spec.type == "plot":
        body["charts"] = await _plot_charts(st, spec, exps)
    elif spec.type == "single":
        body["charts"] = [_single_table(spec, exps)]
    elif spec.type == "parcoords":
        body["charts"] = [await _parcoords(st, who, spec, exps)]
    else:
        body["samples"] = await _samples(st, spec, exps)
    return body, workspace


def _status(e: metadata_pb2.Experiment) -> str:
    return STATUS_NAMES.get(int(e.status), "unspecified")


# -- scalar ---------------------------------------------------------------------------------------
async def _scalar_charts(
    st: GatewayState, spec: WidgetSpec, exps: list[metadata_pb2.Experiment]
) -> list[dict[str, Any]]:
    wanted: list[tuple[metadata_pb2.Experiment, str, str]] = []
    for exp in exps:  # the series each run has, from its metric summaries: no query to list them
        for s in exp.metrics:
            monitor = s.metric.startswith(":monitor:") and not spec.metrics
            if not monitor and _matches(s.metric, spec.metrics) and _matches(s.variant, spec.variants):
                wanted.append((exp, s.metric, s.variant))
    if len(wanted) > MAX_TRACES:
        raise ApiError(
            400,
            "invalid_argument",
            f"metrics: {len(wanted)} series; a widget draws at most {MAX_TRACES}: name metrics and variants",
            "metrics",
        )
    per_chart: dict[str, list[tuple[metadata_pb2.Experiment, str, str]]] = {}
    for w in wanted:  # a chart per metric, its series (every run's) on one bucket grid
        per_chart.setdefault(w[1], []).append(w)
    answers = await asyncio.gather(
        *(
            st.metrics.QueryChart(
                metrics_pb2.ChartQuery(
                    series=[
                        metrics_pb2.ScalarQuery(
                            workspace=exp.workspace, experiment_id=exp.id, metric=m, variant=v,
                            xaxis=XAXIS[spec.xaxis], samples=SAMPLES,
                        )
                        for exp, m, v in group
                    ]
                ),
                timeout=30,
            )
            for group in per_chart.values()
        )
    )  # fmt: skip
    results = [r for answer in answers for r in answer.series]
    ordered = [w for group in per_chart.values() for w in group]
    charts: dict[str, dict[str, Any]] = {}
    for (exp, metric, variant), r in zip(ordered, results, strict=True):
        chart = charts.setdefault(metric, _chart(metric, spec))
        name = variant if len(exps) == 1 else f"{_label(exp, exps)} · {variant}"
        x = [v * 1000 for v in r.x] if spec.xaxis == "wall" else list(r.x)  # plotly dates are ms
        chart["data"].append(
            {
                "type": "scatter",
                "mode": "lines+markers" if len(r.x) == 1 else "lines",
                "name": esc(name),
                "x": x,
                "y": list(r.mean),
                # the bucket's min and max, shown on hover: a dip inside a bucket stays visible
                "customdata": np.column_stack((r.min, r.max)).tolist(),  # pairs, made in C
                "hovertemplate": HOVER,
            }
        )
    return [charts[k] for k in sorted(charts)]


def _chart(title: str, spec: WidgetSpec) -> dict[str, Any]:
    xaxis: dict[str, Any] = {"title": {"text": _XTITLE[spec.xaxis]}}
    if spec.xaxis == "wall":
        xaxis["type"] = "date"
    return {"title": esc(title), "data": [], "layout": {"xaxis": xaxis}}


Q = TypeVar("Q", metrics_pb2.PlotsRequest, metrics_pb2.DebugSamplesRequest)


def _at(query: Q, spec: WidgetSpec) -> Q:
    """The query at the widget's ``iteration`` (else the latest)."""
    if spec.iteration is not None:
        query.iteration = spec.iteration
    return query


# -- plot -----------------------------------------------------------------------------------------
async def _plot_charts(st: GatewayState, spec: WidgetSpec, exps: list[metadata_pb2.Experiment]) -> list[dict[str, Any]]:
    queries = [_at(metrics_pb2.PlotsRequest(workspace=e.workspace, experiment_id=e.id), spec) for e in exps]
    answers = await asyncio.gather(*(st.metrics.GetPlots(q, timeout=30) for q in queries))
    charts = []
    for exp, resp in zip(exps, answers, strict=True):
        for p in resp.plots:
            if not (_matches(p.metric, spec.metrics) and _matches(p.variant, spec.variants)):
                continue
            figure = json.loads(p.figure_json)
            title = f"{p.metric} / {p.variant}" + (f" — {_label(exp, exps)}" if len(exps) > 1 else "")
            charts.append(
                {
                    "title": esc(title) + f" · iteration {p.iteration}",
                    "data": figure.get("data", []),
                    "layout": figure.get("layout", {}),
                }
            )
    return charts[:MAX_TRACES]


# -- single values --------------------------------------------------------------------------------
def _single_table(spec: WidgetSpec, exps: list[metadata_pb2.Experiment]) -> dict[str, Any]:
    """A table: a row per experiment, a column per single value (metric ``Summary``, or the
    ``metrics`` asked for) with its last value."""
    metrics = spec.metrics or (SINGLE_VALUE_METRIC,)
    columns: dict[str, None] = {}
    rows = []
    for exp in exps:
        values = {}
        for m in exp.metrics:
            if _matches(m.metric, metrics) and _matches(m.variant, spec.variants):
                label = m.variant if len(metrics) == 1 else f"{m.metric}/{m.variant}"
                values[label] = m.last
                columns[label] = None
        rows.append((exp, values))
    names = sorted(columns)
    cells = [[esc(_label(e, exps)) for e, _ in rows]]
    cells += [[_fmt(v.get(c)) for _, v in rows] for c in names]
    return {
        "title": esc(", ".join(metrics)),
        "data": [
            {
                "type": "table",
                "header": {"values": ["experiment", *(esc(c) for c in names)]},
                "cells": {"values": cells},
            }
        ],
        "layout": {},
    }


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


# -- parallel coordinates -------------------------------------------------------------------------
def _metric_ident(text: str, value_type: str) -> tuple[str, str]:
    """(identifier, label) of the parcoords metric: ``metric/variant`` or ClearML's ``<md5>.<md5>``."""
    m, dot, v = text.partition(".")
    if dot and MD5.match(m) and MD5.match(v):
        return f"metrics.`md5:{m}/md5:{v}`.{value_type}", ""
    metric, slash, variant = text.rpartition("/")
    if not slash:
        metric, variant = text, text
    return f"metrics.`{metric}/{variant}`.{value_type}", f"{metric}/{variant}"


def _column_key(ident: str) -> str:
    """The key a listed experiment's ``columns`` use for an identifier: its unquoted text."""
    return ident.replace("`", "")


def _param_ident(text: str) -> str:
    section, dot, name = text.partition(".")
    return f"params.`{section}/{name}`" if dot else f"params.`General/{text}`"


async def _parcoords(
    st: GatewayState, who: Principal, spec: WidgetSpec, exps: list[metadata_pb2.Experiment]
) -> dict[str, Any]:
    for text in (*spec.metrics, *spec.variants):
        if "`" in text:
            raise ApiError(400, "invalid_argument", "metrics/variants: no backticks in names", "variants")
    metric_ident, metric_label = _metric_ident(spec.metrics[0], spec.value_type)
    if not metric_label:  # md5 ids: the name, from the experiments' summaries
        m_hash, _, v_hash = spec.metrics[0].partition(".")
        metric_label = next(
            (
                f"{s.metric}/{s.variant}"
                for e in exps
                for s in e.metrics
                if name_hash(s.metric) == m_hash and name_hash(s.variant) == v_hash
            ),
            spec.metrics[0],
        )
    params = [_param_ident(v) for v in spec.variants]
    ids = ", ".join(f"'{e.id}'" for e in exps)
    resp = await st.metadata.ListExperiments(
        metadata_pb2.ListExperimentsRequest(
            workspace=exps[0].workspace if who.anonymous else who.workspace,
            filter=f"attributes.id IN ({ids})",
            columns=",".join([*params, metric_ident]),
            page_size=len(exps),
            public_only=who.anonymous,
        ),
        timeout=10,
    )
    by_id = {e.id: e for e in resp.experiments}
    rows = [by_id[e.id] for e in exps if e.id in by_id]
    dimensions = []
    for label, ident in [*zip(spec.variants, params, strict=True), (metric_label, metric_ident)]:
        raw = [json.loads(r.columns.get(_column_key(ident), "null")) for r in rows]
        dimensions.append(_dimension(esc(label), raw))
    metric_values = [json.loads(r.columns.get(_column_key(metric_ident), "null")) for r in rows]
    numeric = [v if isinstance(v, int | float) else None for v in metric_values]
    return {
        "title": esc(f"{metric_label} ({spec.value_type})"),
        "data": [
            {
                "type": "parcoords",
                "dimensions": dimensions,
                "line": {"color": numeric, "colorscale": "Viridis", "showscale": True},
                "customdata": [esc(r.name) for r in rows],
            }
        ],
        "layout": {},
    }


def _dimension(label: str, raw: list[Any]) -> dict[str, Any]:
    """Numbers stay numbers (parameters are stored as text: "0.1" is numeric); anything else is
    categorical, drawn as ticks."""
    numbers: list[float | None] = []
    for v in raw:
        try:
            numbers.append(None if v is None else float(v))
        except (TypeError, ValueError):
            break
    else:
        return {"label": label, "values": numbers}
    categories = sorted({str(v) for v in raw if v is not None})
    index = {c: i for i, c in enumerate(categories)}
    return {
        "label": label,
        "values": [index.get(str(v)) if v is not None else None for v in raw],
        "tickvals": list(range(len(categories))),
        "ticktext": [esc(c) for c in categories],
    }


# -- debug samples --------------------------------------------------------------------------------
async def _samples(st: GatewayState, spec: WidgetSpec, exps: list[metadata_pb2.Experiment]) -> list[dict[str, Any]]:
    queries = [_at(metrics_pb2.DebugSamplesRequest(workspace=e.workspace, experiment_id=e.id), spec) for e in exps]
    answers = await asyncio.gather(*(st.metrics.GetDebugSamples(q, timeout=30) for q in queries))
    picked = [
        (exp, s)
        for exp, resp in zip(exps, answers, strict=True)
        for s in resp.samples
        if _matches(s.metric, spec.metrics) and _matches(s.variant, spec.variants)
    ][:MAX_TRACES]
    links = await clients.download_links(st, [(exp.workspace, exp.id, s.key) for exp, s in picked])
    return [
        {
            "experiment": exp.id,
            "experiment_name": exp.name,
            "metric": s.metric,
            "variant": s.variant,
            "iteration": s.iteration,
            "kind": s.kind,
            "content_type": s.content_type,
            "url": link.url,
            "iterations": list(s.stored_iterations),
        }
        for (exp, s), link in zip(picked, links, strict=True)
    ]
