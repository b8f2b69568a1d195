"""The bench's table (stdout) and markdown report with one PNG plot per figure."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from bench.run import Figure

TARGETS = {
    "ingest": "DESIGN target: ≥ 500k points/s sustained end to end on 2 cores",
    "latency": "DESIGN target: p99 ingest-to-queryable ≤ 1 s",
    "queries": "DESIGN target: a 10M-point series to 2,000 buckets ≤ 100 ms at the gateway",
    "overhead": "DESIGN target: ≥ 200k log_scalar calls/s from one thread, never blocking",
}


# What bounds each figure, as profiled (py-spy, CPU seconds per process); see the README.
BOUNDS = {
    "ingest": "the metrics projection's ClickHouse insert: with 2 cores shared by the client, ingestion, NATS and both "
    "projections, the metrics process takes ~1.8 CPU-µs per point (chDB executing the insert and its rollup view "
    "~40%, clickhouse-connect writing the Native format in Python ~15%, repeating per-point key strings ~5%). "
    "Lift: insert through chDB's Python() table function (no Python serialization), or a ClickHouse server.",
    "latency": "the SDK's 100 ms flush interval, then one projection batch",
    "series": "two statements over the block rollups (10M points are ~156k block rows), serialized on the "
    "embedded engine's one thread",
    "table": "one ClickHouse statement over the index (count and page together), then the page's documents by id",
    "widget": "one chart's series in three statements (extents from the rollups, whole series, buckets on a "
    "shared grid; reading 200k rows is ~12 ms of it) on the embedded engine, then the page's JSON (msgspec); "
    "a ClickHouse server runs them on more cores",
    "charts": "the tab's scripts (uPlot in a lazy chunk), then one request for every chart in the window (one "
    "QueryCharts: three statements for them all, about one bucket per pixel) and uPlot drawing them; charts "
    "out of view are neither mounted nor fetched",
    "zoom": "the range read again (its own buckets, or every point) and uPlot drawing it",
    "overhead": "a list append per call; sending happens on the SDK's own thread",
    "ui": "the page's first table request (one page of 100 rows) after the app's scripts; the rows render "
    "virtualised, so only those in view cost DOM",
    "script": "React, TanStack Table and Virtual, and the app's pages in one bundle; heavier libraries (charts) "
    "load only where used",
}


def verdicts(
    ingest: list[Figure], latency: Figure, overhead: list[Figure], queries: list[Figure], reads: list[Figure]
) -> str:
    """Each DESIGN target beside what this run measured, met or missed, and what bounds it."""
    sdk = max((f for f in ingest if f.name.startswith("SDK")), key=lambda f: f.median)
    rows: list[tuple[str, str, bool | None, str]] = [
        ("ingest ≥ 500k points/s end to end", f"{sdk.median:,.0f} points/s ({sdk.name})", sdk.median >= 500_000,
         BOUNDS["ingest"]),
        ("p99 ingest-to-queryable ≤ 1 s", f"{latency.quantile(0.99) * 1000:,.0f} ms", latency.quantile(0.99) <= 1.0,
         BOUNDS["latency"]),
        ("≥ 200k log_scalar calls/s", f"{overhead[0].median:,.0f} calls/s", overhead[0].median >= 200_000,
         BOUNDS["overhead"]),
    ]  # fmt: skip
    ten = [f for f in queries if f.name.startswith("10M") and "buckets" in f.name]
    target = "10M-point series → 2,000 buckets ≤ 100 ms"
    if ten:
        rows.append((target, f"{ten[0].median * 1000:,.0f} ms", ten[0].median <= 0.1, BOUNDS["series"]))
    else:
        rows.append((target, "not run at this scale (BENCH_SCALE=full)", None, BOUNDS["series"]))
    for fig in queries:
        if fig.name.startswith("web UI") and "chart drawn" in fig.name:
            rows.append((f"{fig.name} ≤ 500 ms", f"{fig.median * 1000:,.0f} ms", fig.median <= 0.5, BOUNDS["charts"]))
        elif fig.name.startswith("web UI") and "zoom" in fig.name:
            rows.append((f"{fig.name} ≤ 200 ms", f"{fig.median * 1000:,.0f} ms", fig.median <= 0.2, BOUNDS["zoom"]))
    for fig in reads:
        if fig.name.startswith("table of"):
            rows.append((f"experiment {fig.name.split(':')[0]} ≤ 200 ms", f"{fig.median * 1000:,.0f} ms",
                         fig.median <= 0.2, BOUNDS["table"]))  # fmt: skip
        elif fig.name.startswith("web UI, project"):
            p95 = fig.quantile(0.95)
            rows.append((f"{fig.name} ≤ 1 s p95", f"{p95 * 1000:,.0f} ms p95", p95 <= 1.0, BOUNDS["ui"]))
        elif fig.name.startswith("web UI, initial"):
            size = fig.median
            rows.append(("initial JavaScript ≤ 300 KB gzipped", f"{size:,.0f} KB", size <= 300, BOUNDS["script"]))
        elif fig.name.startswith("web UI, Scalars tab"):
            p95 = fig.quantile(0.95)
            rows.append((f"{fig.name} ≤ 1 s p95", f"{p95 * 1000:,.0f} ms p95", p95 <= 1.0, BOUNDS["charts"]))
        elif fig.name.startswith("/widget/"):
            rows.append((f"{fig.name} ≤ 100 ms", f"{fig.median * 1000:,.0f} ms", fig.median <= 0.1, BOUNDS["widget"]))
    lines = ["| DESIGN target | measured (median) | | what bounds it |", "| --- | --- | --- | --- |"]
    for target, measured, met, bound in rows:
        mark = "—" if met is None else ("met" if met else "**missed**")
        lines.append(f"| {target} | {measured} | {mark} | {bound} |")
    return "\n".join(lines)


def _fmt(fig: Figure) -> tuple[str, str]:
    if fig.unit == "µs":
        return f"{fig.median:,.2f} µs", f"{min(fig.samples):,.2f}-{max(fig.samples):,.2f} µs"
    if fig.unit == "s":
        return f"{fig.median * 1000:,.1f} ms", f"{min(fig.samples) * 1000:,.1f}-{max(fig.samples) * 1000:,.1f} ms"
    return f"{fig.median:,.0f} {fig.unit}", f"{min(fig.samples):,.0f}-{max(fig.samples):,.0f}"


def _rows(figures: list[Figure]) -> list[str]:
    rows = []
    for f in figures:
        median, spread = _fmt(f)
        rows.append(f"| {f.system} | {f.name} | {median} | {spread} | {len(f.samples)} |")
    return rows


def table(
    ingest: list[Figure],
    latency: Figure,
    overhead: list[Figure],
    queries: list[Figure],
    mlflow: list[Figure],
    reads: list[Figure],
) -> str:
    lines = ["", "| system | figure | median | min-max | runs |", "| --- | --- | --- | --- | --- |"]
    lines += _rows([*ingest, mlflow[0], mlflow[3], latency, mlflow[1], mlflow[4], *overhead, *queries, mlflow[2],
                    mlflow[5], *reads])  # fmt: skip
    p50, p99 = latency.median * 1000, latency.quantile(0.99) * 1000
    lat = f"| Tracklane | latency p50 / p99 | {p50:,.0f} ms / {p99:,.0f} ms | | {len(latency.samples)} |"
    return "\n".join([*lines, lat])


def _bar(path: Path, title: str, figures: list[Figure], unit: str, log: bool = False) -> None:
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.5 * len(figures)))
    labels = [f"{f.system}: {f.name}" for f in figures]
    scale = 1000.0 if unit == "ms" else 1.0
    medians = [f.median * scale for f in figures]
    lows = [m - min(f.samples) * scale for m, f in zip(medians, figures, strict=True)]
    highs = [max(f.samples) * scale - m for m, f in zip(medians, figures, strict=True)]
    colors = ["#2a7ab9" if f.system == "Tracklane" else "#d9822b" for f in figures]
    ax.barh(labels, medians, xerr=[lows, highs], color=colors, capsize=3)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(title)
    if log:
        ax.set_xscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(
    folder: Path,
    scale: str,
    machine: dict[str, str],
    ingest: list[Figure],
    latency: Figure,
    overhead: list[Figure],
    queries: list[Figure],
    mlflow: list[Figure],
    reads: list[Figure],
) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = folder / stamp
    out.mkdir(parents=True, exist_ok=True)
    _bar(
        out / "ingest.png",
        "Ingest throughput, end to end (higher is better)",
        [*(f for f in ingest if f.unit == "points/s"), mlflow[0], mlflow[3]],
        "points/s",
        log=True,
    )
    _bar(out / "latency.png", "Ingest to queryable (lower is better)", [latency, mlflow[1], mlflow[4]], "ms", log=True)
    _bar(out / "overhead.png", "SDK overhead: log_scalar from one thread", overhead, "calls/s")
    _bar(out / "queries.png", "Series queries at the gateway (lower is better)", [*queries, mlflow[2], mlflow[5]], "ms",
         log=True)  # fmt: skip
    timed = [f for f in reads if f.unit == "s"]
    rates = [f for f in reads if f.unit.endswith("/s")]
    _bar(out / "reads.png", "Experiment table and widgets at the gateway (lower is better)", timed, "ms", log=True)
    if rates:
        _bar(out / "replay.png", "Read models rebuilt from the archive (higher is better)", rates, "per s", log=True)
    machine_rows = "\n".join(f"| {k} | {v} |" for k, v in machine.items())
    ratio = ingest[0].median / mlflow[0].median
    api_ratio = mlflow[3].median / mlflow[0].median
    cpu = [f for f in ingest if f.unit == "µs"]
    cpu_line = "; ".join(f"{f.name}: {f.median:.2f} µs" for f in cpu)
    body = f"""# Tracklane bench — {stamp} (scale `{scale}`)

Reproduce: `make bench` (or `make bench BENCH_SCALE=full`). Medians over repeated runs with
min-max; the MLflow column is `mlflow server` (SQLite store, 1 worker) on the same machine in
the same run. Nothing here is asserted; the machines are shared and noisy.

| machine | |
| --- | --- |
{machine_rows}

## Ingest throughput, end to end
SDK processes log scalars until every point is queryable through the gateway; the time
includes starting the client processes, which weighs on the small scale.
{TARGETS["ingest"]}. One SDK client is **{ratio:,.0f}x** MLflow's `log_batch`.

The same `MlflowClient.log_batch` code (bench/mlflow_worker.py, 1,000 metrics a call, one
process) against Tracklane's gateway (`MLFLOW_TRACKING_URI=<gateway>`) is **{api_ratio:,.1f}x**
MLflow's own server (target ≥ 10x). Each call answers once its points are queryable, as
MLflow's does.

![ingest](ingest.png)

What a point and an event cost each process (CPU seconds over the raw gRPC runs divided by their
points; over 5,000 events of one point each divided by the events; docs/capacity.md turns these
into cores): {cpu_line}.

## Ingest-to-queryable latency
From `log_scalar` returning (probe points, one every 50 ms) to the point coming back from the
gateway, under a steady load of 100k points/s. The SDK's 100 ms flush interval is part of it.
MLflow's figure is `log_batch` of one point, then `get_metric_history` until it is there, with no
other load (one MLflow server cannot take 100k points/s).
p50 {latency.median * 1000:,.0f} ms, p99 {latency.quantile(0.99) * 1000:,.0f} ms. {TARGETS["latency"]}.

![latency](latency.png)

## SDK overhead
{TARGETS["overhead"]}. "Slow" puts a proxy that holds every chunk 200 ms in front of ingestion;
"down" points the SDK at a closed port.

![overhead](overhead.png)

## Series queries
{TARGETS["queries"]}. MLflow's `get_metric_history` returns every point (it has no downsampling).

![queries](queries.png)

## Experiment table and widgets
The table: a filter on a metric and the status, sorted by the metric's minimum, a page of 50,
over experiment documents seeded straight into the metadata store (their write path is the
ingest figures'). The widget: the whole `/widget/` page (plotly script excluded: it is cached
for good) for scalar charts of 1 and 10 experiments, 20k points each, drawn as 1,000 buckets.

![reads](reads.png)

## Rebuilding read models
`tracklane-server replay` of the metrics and the metadata read models over everything the bench
logged, once the archiver has it all: events (and scalar points) put through the projection per
second, from the archive (no peer has a replay to compare with).

![replay](replay.png)

## Against DESIGN's targets
{verdicts(ingest, latency, overhead, queries, reads)}

## All figures
{table(ingest, latency, overhead, queries, mlflow, reads)}
"""
    (out / "report.md").write_text(body)
    latest = folder / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(out.name)
    return out / "report.md"
