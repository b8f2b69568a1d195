"""``make bench``: Tracklane's embedded stack against an MLflow tracking server on the same
machine, in the same run. Prints a table and writes ``bench/results/<time>.md`` with a plot per
figure. Measures, never asserts. ``BENCH_SCALE=small`` (default, a few minutes) or ``full``."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import psutil
import tracklane

from bench import pages, report, ui
from devstack import Ports, Stack, free_port, which

ROOT = Path(__file__).resolve().parent
KEY = "tl_bench"
MLFLOW_VERSION = "3.17.2"


@dataclass(frozen=True)
class Scale:
    name: str
    points_per_client: int
    clients: tuple[int, ...]
    repeats: int
    raw_points: int
    latency_seconds: float
    overhead_calls: int
    series_sizes: tuple[int, ...]
    query_repeats: int
    mlflow_points: int
    mlflow_probes: int
    table_experiments: int = 20_000


SCALES = {
    "small": Scale("small", 300_000, (1, 2, 4), 2, 1_000_000, 8.0, 300_000, (1_000_000,), 20, 20_000, 20),
    "full": Scale(
        "full",
        2_000_000,
        (1, 2, 4),
        3,
        5_000_000,
        30.0,
        2_000_000,
        (1_000_000, 10_000_000),
        50,
        100_000,
        50,
        100_000,
    ),
}


@dataclass
class Figure:
    """One measured quantity: samples (medians are reported with min-max)."""

    name: str
    unit: str
    system: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def quantile(self, q: float) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(q * len(s)))]


def worker(stack_addr: str, kind: str, *args: object) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.workers", kind, stack_addr, KEY, *map(str, args)],
        capture_output=True, text=True, check=True, cwd=ROOT.parent,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def total_points(gw: httpx.Client, exp: str, metric: str = "loss", variant: str = "train") -> int:
    r = gw.get(f"/api/v1/experiments/{exp}/scalars", params={"metric": metric, "variant": variant, "samples": 1})
    if r.status_code != 200 or not r.json()["series"]:
        return 0
    return int(r.json()["series"][0]["total_points"])


def wait_queryable(
    gw: httpx.Client, expected: dict[str, int], timeout: float = 600, metric: str = "loss", variant: str = "train"
) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(expected)
    while pending and time.monotonic() < deadline:
        pending = {e: n for e, n in pending.items() if total_points(gw, e, metric, variant) < n}
        time.sleep(0.02)
    if pending:
        raise TimeoutError(f"points never became queryable: {pending}")


def bench_ingest(stack: Stack, gw: httpx.Client, scale: Scale) -> list[Figure]:
    figures = []
    for clients in scale.clients:
        fig = Figure(f"SDK, {clients} client process{'es' if clients > 1 else ''}", "points/s", "Tracklane")
        for _ in range(scale.repeats):
            start = time.perf_counter()
            results: list[dict[str, Any]] = []

            def one_client(into: list[dict[str, Any]] = results) -> None:
                into.append(worker(stack.ingestion_addr, "sdk_log", scale.points_per_client, "bench-ingest"))

            threads = [threading.Thread(target=one_client) for _ in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wait_queryable(gw, {r["experiment"]: scale.points_per_client for r in results})
            fig.samples.append(clients * scale.points_per_client / (time.perf_counter() - start))
            progress(f"ingest {clients} client(s): {fig.samples[-1]:,.0f} points/s")
        figures.append(fig)
    raw = Figure("raw gRPC batches (25k points), 1 process", "points/s", "Tracklane")
    cost = {name: Figure(f"CPU per point, {name}", "µs", "Tracklane") for name in CPU_ACCOUNTED}
    for _ in range(scale.repeats):
        before = cpu_seconds(stack)
        start = time.perf_counter()
        r = worker(stack.ingestion_addr, "raw_grpc", scale.raw_points, "bench-raw")
        wait_queryable(gw, {r["experiment"]: scale.raw_points})
        raw.samples.append(scale.raw_points / (time.perf_counter() - start))
        after = cpu_seconds(stack)
        for name, fig in cost.items():  # the server's own cost of a point, per process (docs/capacity.md)
            fig.samples.append((after.get(name, 0.0) - before.get(name, 0.0)) / scale.raw_points * 1e6)
        progress(f"ingest raw gRPC: {raw.samples[-1]:,.0f} points/s")
    progress("CPU per point: " + ", ".join(f"{n} {f.median:.2f} µs" for n, f in cost.items()))
    # many runs each send small events: what one event costs beside its points (one point each)
    events = 5_000
    before = cpu_seconds(stack)
    r = worker(stack.ingestion_addr, "raw_grpc", events, "bench-events", 1)
    wait_queryable(gw, {r["experiment"]: events})
    after = cpu_seconds(stack)
    per_event = [
        Figure(f"CPU per event, {n}", "µs", "Tracklane", [(after.get(n, 0.0) - before.get(n, 0.0)) / events * 1e6])
        for n in CPU_ACCOUNTED
    ]
    progress("CPU per event: " + ", ".join(f"{f.name[15:]} {f.median:.0f} µs" for f in per_event))
    return [*figures, raw, *cost.values(), *per_event]


# The processes a point passes through (the gateway's share is the reads that wait for it).
CPU_ACCOUNTED = ("ingestion", "nats", "metrics", "metadata", "artifact", "gateway")


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """User + system CPU seconds each of the stack's processes has used so far."""
    out = {}
    for name, proc in stack.procs.items():
        try:
            t = psutil.Process(proc.pid).cpu_times()
            out[name] = t.user + t.system
        except psutil.Error:
            continue
    return out


def bench_latency(stack: Stack, gw: httpx.Client, scale: Scale) -> Figure:
    """log_scalar returning -> the point returned by the gateway, under 100k points/s of load."""
    fig = Figure("ingest-to-queryable under 100k points/s", "s", "Tracklane")
    load = threading.Thread(
        target=worker, args=(stack.ingestion_addr, "steady", 100_000, scale.latency_seconds + 2, "bench-load")
    )
    load.start()
    time.sleep(1.0)
    probe = tracklane.init(project="bench-latency", name="probe", server=stack.ingestion_addr, api_key=KEY)
    k = 0
    end = time.monotonic() + scale.latency_seconds
    while time.monotonic() < end:
        probe.log_scalar("probe", "p", float(k), k)
        t0 = time.perf_counter()
        params: dict[str, str | int] = {"metric": "probe", "variant": "p", "x_min": k, "x_max": k, "samples": 1}
        while True:
            r = gw.get(f"/api/v1/experiments/{probe.id}/scalars", params=params)
            if r.status_code == 200 and r.json()["series"] and r.json()["series"][0]["total_points"]:
                break
            time.sleep(0.002)
        fig.samples.append(time.perf_counter() - t0)
        k += 1
        time.sleep(0.05)
    probe.close()
    load.join()
    progress(f"latency p50 {fig.median * 1000:.0f} ms, p99 {fig.quantile(0.99) * 1000:.0f} ms over {k} probes")
    return fig


class SlowProxy:
    """A TCP proxy that holds every chunk for ``delay`` seconds: a slow server."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.port = free_port()
        self.target_port, self.delay = target_port, delay
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                await asyncio.sleep(self.delay)
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer), return_exceptions=True)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)


def bench_overhead(stack: Stack, scale: Scale) -> list[Figure]:
    proxy = SlowProxy(stack.ports.ingestion, 0.2)
    targets = {"server up": stack.ingestion_addr, "server slow (+200 ms)": f"127.0.0.1:{proxy.port}",
               "server down": f"127.0.0.1:{free_port()}"}  # fmt: skip
    figures = []
    for label, addr in targets.items():
        fig = Figure(f"log_scalar, {label}", "calls/s", "Tracklane")
        for _ in range(scale.repeats):
            fig.samples.append(float(worker(addr, "sdk_overhead", scale.overhead_calls)["calls_per_s"]))
        progress(f"SDK overhead, {label}: {fig.median:,.0f} calls/s")
        figures.append(fig)
    proxy.close()
    return figures


def bench_queries(stack: Stack, gw: httpx.Client, scale: Scale) -> list[Figure]:
    figures = []
    for n in scale.series_sizes:
        r = worker(stack.ingestion_addr, "raw_grpc", n, "bench-series")
        wait_queryable(gw, {r["experiment"]: n})
        if Path(ui.CHROMIUM).exists() and n == max(scale.series_sizes):
            repeats = max(3, scale.query_repeats // 4)
            opened, zoomed = ui.long_series(stack, KEY, "bench-series", r["experiment"], repeats)
            name = f"web UI, a {n / 1e6:g}M-point series"
            figures.append(Figure(f"{name}: chart drawn after navigation", "s", "Tracklane", opened))
            figures.append(Figure(f"{name}: a zoom drawn", "s", "Tracklane", zoomed))
            progress(
                f"{name}: drawn p50 {figures[-2].median * 1000:.0f} ms, zoom p50 {figures[-1].median * 1000:.0f} ms"
            )
        url = f"/api/v1/experiments/{r['experiment']}/scalars"
        cases: list[tuple[str, dict[str, str | int]]] = [
            (f"{n / 1e6:g}M points -> 2,000 buckets", {"metric": "loss", "variant": "train", "samples": 2000}),
            (f"{n / 1e6:g}M points, zoom on 2,000 points", {"metric": "loss", "variant": "train", "samples": 2000,
                                                            "x_min": n // 2, "x_max": n // 2 + 1999}),
        ]  # fmt: skip
        for label, params in cases:
            fig = Figure(label, "s", "Tracklane")
            gw.get(url, params=params)  # warm
            for _ in range(scale.query_repeats):
                t = time.perf_counter()
                gw.get(url, params=params).raise_for_status()
                fig.samples.append(time.perf_counter() - t)
            progress(f"query {label}: p50 {fig.median * 1000:.1f} ms")
            figures.append(fig)
    return figures


def bench_table(stack: Stack, gw: httpx.Client, scale: Scale) -> list[Figure]:
    """The experiment table: filter and sort by a metric over many experiments, a page of 50; and
    how long the metadata service takes to rebuild its table index from that many documents."""
    n = scale.table_experiments
    rebuild = Figure(f"table index rebuilt from {n:,} documents (service start)", "s", "Tracklane")
    rebuild.samples = [pages.seed(stack, n, "bench-table", progress)]
    progress(f"{rebuild.name}: {rebuild.median:.1f} s")
    fig = Figure(f"table of {n:,}: filter + sort by a metric, page of 50", "s", "Tracklane")
    fig.samples = pages.timed(gw, "/api/v1/experiments", pages.table_params("bench-table"), scale.query_repeats)
    progress(f"{fig.name}: p50 {fig.median * 1000:.0f} ms, p95 {fig.quantile(0.95) * 1000:.0f} ms")
    if Path(ui.CHROMIUM).exists():
        shown = Figure(f"web UI, project of {n:,}: first {ui.ROWS} rows shown after navigation", "s", "Tracklane")
        shown.samples = ui.first_rows(stack, KEY, "bench-table", scale.query_repeats)
        progress(f"{shown.name}: p50 {shown.median * 1000:.0f} ms, p95 {shown.quantile(0.95) * 1000:.0f} ms")
        size = Figure("web UI, initial JavaScript (gzipped)", "KB", "Tracklane", [ui.initial_script_kb()])
        return [fig, rebuild, shown, size]
    progress("web UI figures skipped: no Chromium (make browser-engine installs it)")
    return [fig, rebuild]


def bench_charts(stack: Stack, gw: httpx.Client, scale: Scale) -> list[Figure]:
    """The Scalars tab of an experiment with 50 metrics of 5 series each (2,000 points each):
    how long until the charts in the window are drawn."""
    if not Path(ui.CHROMIUM).exists():
        return []
    metrics, variants, points = 50, 5, 2_000
    r = worker(stack.ingestion_addr, "many_series", metrics, variants, points, "bench-charts")
    wait_queryable(gw, {r["experiment"]: points}, metric="metric_49", variant="v4")
    fig = Figure(
        f"web UI, Scalars tab of {metrics} metrics x {variants} series: charts in view drawn", "s", "Tracklane"
    )
    fig.samples = ui.scalars_tab(stack, KEY, "bench-charts", r["experiment"], max(5, scale.query_repeats // 2))
    progress(f"{fig.name}: p50 {fig.median * 1000:.0f} ms, p95 {fig.quantile(0.95) * 1000:.0f} ms")
    return [fig]


def bench_replay(stack: Stack) -> list[Figure]:
    """``tracklane-server replay`` of the metrics and the metadata read models over everything the
    bench logged so far, from the archive: events and points applied per second."""
    from services.artifact import archive
    from services.artifact.store import FileObjectStore
    from services.common import bus
    from services.common.replay import Jobs
    from services.replay import follow

    store = FileObjectStore(stack.data_dir / "objects", b"-", "http://unused")

    async def run() -> list[Figure]:
        nc, js = await bus.connect(stack.nats_url, "bench")
        try:
            last = (await js.stream_info(bus.STREAM)).state.last_seq
            for _ in range(600):  # the archiver catches up (it flushes every 5 s)
                if await asyncio.to_thread(archive.last_position, store) >= last:
                    break
                await asyncio.sleep(0.5)
            jobs = await Jobs.open(js)
            figures = []
            for name in ("metrics", "metadata"):
                await jobs.request(name)
                said = [""]

                def show(state: list[Any], name: str = name, said: list[str] = said) -> None:
                    if state[0].text.split(":")[0] != said[0]:
                        said[0] = state[0].text.split(":")[0]
                        progress(f"replay {name}: {state[0].text}")

                job = (await follow(js, jobs, [name], show))[0].job
                assert job is not None
                took = job.archive_done_at - job.started_at
                events = Figure(f"replay: {name} read model rebuilt from the archive", "events/s", "Tracklane")
                events.samples = [job.archived_events / took]
                figures.append(events)
                if job.archived_points:
                    points = Figure(f"replay: {name} read model rebuilt from the archive", "points/s", "Tracklane")
                    points.samples = [job.archived_points / took]
                    figures.append(points)
                progress(
                    f"replay {name}: {job.archived_events:,} events, {job.archived_points:,} points in {took:.1f} s"
                )
            return figures
        finally:
            await nc.close()

    return asyncio.run(run())


def bench_widget(stack: Stack, gw: httpx.Client, scale: Scale) -> list[Figure]:
    """``/widget/`` scalar charts (the HTML page, data included) of 1 and 10 experiments."""
    ids = []
    for _ in range(10):
        r = worker(stack.ingestion_addr, "raw_grpc", 20_000, "bench-widget")
        ids.append(r["experiment"])
    wait_queryable(gw, dict.fromkeys(ids, 20_000))
    figures = []
    for count in (1, 10):
        fig = Figure(f"/widget/ scalar chart, {count} experiment(s) x 20k points", "s", "Tracklane")
        params = {"objects": ids[:count], "type": "scalar", "metrics": "loss", "variants": "train"}
        fig.samples = pages.timed(gw, "/widget/", params, scale.query_repeats)
        progress(f"{fig.name}: p50 {fig.median * 1000:.0f} ms, p95 {fig.quantile(0.95) * 1000:.0f} ms")
        figures.append(fig)
    return figures


def mlflow_venv() -> Path:
    venv = ROOT / ".mlflow-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "mlflow").exists():
        progress(f"installing MLflow {MLFLOW_VERSION} into {venv} (once) …")
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_VERSION}"], check=True)
    return venv


def mlflow_workload(uri: str, scale: Scale, system: str, token: str = "") -> tuple[list[Figure], str]:
    """bench/mlflow_worker.py (``MlflowClient.log_batch`` of 1,000 metrics a call, then probes and
    history reads) against ``uri``, in MLflow's own environment: the same client code and work
    against MLflow's server and Tracklane's gateway."""
    env = {**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    env.pop("MLFLOW_TRACKING_TOKEN", None)
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    out = subprocess.run(
        [str(mlflow_venv() / "bin" / "python"), str(ROOT / "mlflow_worker.py"), uri,
         str(scale.mlflow_points), str(scale.mlflow_probes), "5"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ingest = Figure("log_batch (1,000 metrics/call), 1 process", "points/s", system, [r["ingest"]["points_per_s"]])
    lat = Figure("log_batch -> get_metric_history (no other load)", "s", system, r["latency"]["samples_s"])
    query = Figure(f"get_metric_history of {r['query']['points']:,} points", "s", system, r["query"]["samples_s"])
    points, seconds = r["query"]["points"], query.median
    progress(f"{system}: {ingest.median:,.0f} points/s; history of {points:,} points in {seconds:.2f} s")
    return [ingest, lat, query], str(r["version"])


def bench_mlflow_api(stack: Stack, scale: Scale) -> list[Figure]:
    """The MLflow workload against Tracklane's gateway (its MLflow API)."""
    figures, _ = mlflow_workload(stack.gateway_url, scale, "Tracklane (MLflow API)", token=KEY)
    return figures


def bench_mlflow(scale: Scale) -> tuple[list[Figure], str]:
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="tl-bench-mlflow-"))
    server = subprocess.Popen(
        [str(mlflow_venv() / "bin" / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
         "--default-artifact-root", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        return mlflow_workload(f"http://127.0.0.1:{port}", scale, "MLflow")
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def machine() -> dict[str, str]:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    nats = subprocess.run([which("nats-server"), "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{mem:.0f} GiB",
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "nats-server": nats,
        "chdb (ClickHouse engine)": metadata.version("chdb"),
        "nx-27017": metadata.version("nx-27017"),
        "pymongo": metadata.version("pymongo"),
        "grpcio": metadata.version("grpcio"),
    }


def progress(text: str) -> None:
    print(f"  · {text}", flush=True)


def main() -> None:
    scale = SCALES[os.environ.get("BENCH_SCALE", "small")]
    print(f"Tracklane bench, scale {scale.name}", flush=True)
    data = Path(tempfile.mkdtemp(prefix="tl-bench-"))
    stack = Stack(data, KEY, Ports.free())
    try:
        stack.start()
        with httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as gw:
            ingest = bench_ingest(stack, gw, scale)
            latency = bench_latency(stack, gw, scale)
            overhead = bench_overhead(stack, scale)
            queries = bench_queries(stack, gw, scale)
            reads = [*bench_table(stack, gw, scale), *bench_widget(stack, gw, scale), *bench_charts(stack, gw, scale)]
            reads += bench_replay(stack)
            via_api = bench_mlflow_api(stack, scale)
    finally:
        stack.stop()
        shutil.rmtree(data, ignore_errors=True)
    mlflow, mlflow_version = bench_mlflow(scale)
    mlflow += via_api  # [MLflow's 3 figures, then the same 3 through Tracklane's MLflow API]
    info = machine() | {"MLflow": mlflow_version}
    path = report.write(ROOT / "results", scale.name, info, ingest, latency, overhead, queries, mlflow, reads)
    print(report.table(ingest, latency, overhead, queries, mlflow, reads))
    print()
    print(report.verdicts(ingest, latency, overhead, queries, reads))
    print(f"\nReport: {path}")


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    main()
