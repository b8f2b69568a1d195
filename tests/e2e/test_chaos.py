"""Chaos: four SDK clients train at once — scalars, console lines, plots and files — while the
platform's processes are killed with -9 in turn (nats-server, ingestion, metrics, metadata,
artifact, the gateway), then two at once, each started again after a moment. Afterwards every
count is exact: the points stored are the points logged (none lost, none twice), each metric's
summary is right, every console line, plot and file is there once. Prints a table of figures.

``make test`` runs a reduced version (``CHAOS_POINTS`` 40,000; nats-server, then ingestion and
metrics at once); ``make chaos`` the whole (``CHAOS_POINTS=1000000 CHAOS_FULL=1``), which then
kills metrics six times more, to land inside a ClickHouse insert (see ``ClickHouseScalarStore.settle``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from devstack import Stack
from tests import figures
from tests.conftest import API_KEY, start_stack
from tests.e2e.helpers import gateway, total_points, wait_for

pytestmark = pytest.mark.engines

POINTS = int(os.environ.get("CHAOS_POINTS", "40000"))  # in all, over the four clients (at least)
FULL = os.environ.get("CHAOS_FULL") == "1"
CLIENTS = 4
KILLS: list[tuple[str, ...]] = (
    [("nats",), ("ingestion",), ("metrics",), ("metadata",), ("artifact",), ("gateway",), ("ingestion", "metrics")]
    + [("metrics",)] * 6  # then metrics again and again, most likely inside an insert while it catches up
    if FULL
    else [("nats",), ("ingestion", "metrics")]
)
LINE_EVERY, PLOT_EVERY, FILE_EVERY = 1_000, 5_000, 10_000
STEP_S = 0.05 if FULL else 0.25  # a training step per 500 points: 10,000 (2,000) points a second per client

CLIENT = (
    textwrap.dedent(
        """
    import json, sys, time
    from pathlib import Path
    import tracklane
    from tests.figures import CallTimer

    n, stop, name = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    exp = tracklane.init(project="chaos", name=name, monitor_interval=None, flush_timeout=600)
    print("ID", exp.id, flush=True)
    timer, i, lines, plots, files = CallTimer(), 0, 0, 0, 0
    while i < n or not stop.exists():
        for _ in range(500):
            timer.call(exp.log_scalar, "loss", "train", 1.0 / (i + 1), iteration=i)
            if i % LINE_EVERY == 0:
                print(f"chaos-line {name} {i}")
                lines += 1
            if i % PLOT_EVERY == 0:
                exp.log_plot("curve", "c", {"data": [{"type": "scatter", "y": [i, i + 1]}]}, iteration=i)
                plots += 1
            if i % FILE_EVERY == 0:
                exp.upload_artifact(f"ckpt-{i}", {"iteration": i})
                files += 1
            i += 1
        time.sleep(STEP_S)
    delivered = exp.close()
    sys.__stdout__.write(json.dumps({"id": exp.id, "points": i, "lines": lines, "plots": plots, "files": files,
                                     "delivered": delivered, **timer.summary()}) + "\\n")
    sys.__stdout__.flush()
    """
    )
    .replace("LINE_EVERY", str(LINE_EVERY))
    .replace("PLOT_EVERY", str(PLOT_EVERY))
    .replace("FILE_EVERY", str(FILE_EVERY))
    .replace("STEP_S", str(STEP_S))
)


def _bounce(stack: Stack, victims: tuple[str, ...], log: list[dict[str, Any]]) -> None:
    """kill -9, a moment down, started again; how long until it served again."""
    for name in victims:
        stack.kill(name)
    time.sleep(2.0)
    started = time.monotonic()
    for name in victims:
        if name == "nats":
            stack.start_engine("nats")
        else:
            stack.start_service(name)
    log.append({"killed": " + ".join(victims), "back_in_s": round(time.monotonic() - started, 1)})


def _settled(stack: Stack) -> str:
    """What the metrics service's logs say it settled: the redelivered events whose rows a kill
    inside an insert had lost (stored again), or whose blocks' rollups disagreed with the points
    (rebuilt: a block can be shared with the next event, whose insert the kill cut in two)."""
    text = (stack.data_dir / "logs" / "metrics.log").read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if "metrics.settled" in ln]
    restored = sum(int(n) for ln in lines for n in re.findall(r'restored_(?:points|lines)["=:\s]+(\d+)', ln))
    blocks = sum(int(n) for ln in lines for n in re.findall(r'rebuilt_blocks["=:\s]+(\d+)', ln))
    return f"{len(lines)} ({restored:,} points and lines stored again, {blocks:,} rollup blocks rebuilt)"


def _get(stack: Stack, path: str, **params: Any) -> Any:
    with gateway(stack) as gw:
        r = gw.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.mark.timeout(300 + POINTS // 1000 + 20 * len(KILLS))  # make chaos: more points, more kills
def test_nothing_is_lost_or_doubled_while_every_process_is_killed_in_turn(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "server", TRACKLANE_ARCHIVE_FLUSH_S="1")
    stop = tmp_path / "stop"
    env = {**os.environ, "TRACKLANE_SERVER": stack.ingestion_addr, "TRACKLANE_API_KEY": API_KEY}
    procs = []
    try:
        for c in range(CLIENTS):
            cache = {"TRACKLANE_CACHE_DIR": str(tmp_path / f"cache-{c}")}
            procs.append(subprocess.Popen([sys.executable, "-c", CLIENT, str(POINTS // CLIENTS), str(stop), f"c{c}"],
                                          env={**env, **cache}, stdout=subprocess.PIPE, text=True))  # fmt: skip
        ids = [p.stdout.readline().split()[1] for p in procs if p.stdout is not None]
        with gateway(stack) as gw:
            wait_for("the first points", lambda: all(total_points(gw, e, "loss", "train") > 0 for e in ids))
        began = time.monotonic()
        kills: list[dict[str, Any]] = []
        for victims in KILLS:
            _bounce(stack, victims, kills)
            time.sleep(3.0)  # training goes on with it back, until the next
        stop.write_text("")
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=900)  # (the console lines pass through to stdout too)
            assert p.returncode == 0
            results.append(json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1]))
        took = time.monotonic() - began
        assert all(r["delivered"] for r in results), results  # every client had it all acknowledged

        logged = sum(r["points"] for r in results)
        with gateway(stack) as gw:
            for r in results:
                arrived = lambda r=r: total_points(gw, r["id"], "loss", "train") >= r["points"]  # noqa: E731
                wait_for(f"{r['points']:,} points of {r['id']}", arrived, timeout=600)
        stored, doubled, lines_ok, plots_ok, files_ok = 0, 0, 0, 0, 0
        for r in results:
            exp = r["id"]
            series = _get(stack, f"/api/v1/experiments/{exp}/scalars", samples=20_000)["series"][0]
            counted = sum(series["count"])
            stored += counted
            doubled += max(0, counted - r["points"])
            summary = next(m for m in _get(stack, f"/api/v1/experiments/{exp}")["metrics"] if m["metric"] == "loss")
            assert (summary["last_iteration"], summary["max"]) == (r["points"] - 1, 1.0), summary
            assert summary["min"] == pytest.approx(1.0 / r["points"]) and summary["last"] == summary["min"]
            console = _get(stack, f"/api/v1/experiments/{exp}/console", search="chaos-line", limit=10_000)["lines"]
            texts = [ln["text"] for ln in console]
            assert len(texts) == len(set(texts)) == r["lines"], (len(texts), len(set(texts)), r["lines"])
            lines_ok += len(texts)
            plot = next(p for p in _get(stack, f"/api/v1/experiments/{exp}/plots")["plots"] if p["metric"] == "curve")
            assert plot["stored_iterations"] == list(range(0, r["points"], PLOT_EVERY)), plot["stored_iterations"]
            plots_ok += len(plot["stored_iterations"])
            names = sorted(a["name"] for a in _get(stack, f"/api/v1/experiments/{exp}/artifacts")["artifacts"])
            assert names == sorted(f"ckpt-{i}" for i in range(0, r["points"], FILE_EVERY)), names
            files_ok += len(names)
        slowest = max(results, key=lambda r: r["max_ms"])
        p999 = max(r["p999_ms"] for r in results)
        bounced = ", ".join(f"{k['killed']} (back in {k['back_in_s']} s)" for k in kills)
        lost = logged - stored + doubled
        settled = _settled(stack)
        rows = [
            ("clients", f"{CLIENTS}"),
            ("kills (-9), each then started again", bounced),
            ("points logged / stored / lost / twice", f"{logged:,} / {stored:,} / {lost:,} / {doubled:,}"),
            ("console lines, plots, files (all there, once)", f"{lines_ok:,}, {plots_ok:,}, {files_ok:,}"),
            ("redelivered events settled (a kill had cut their insert)", settled),
            ("duration of the kills", f"{took:.0f} s"),
        ]  # fmt: skip
        for figure, value in rows:
            figures.record("processes killed in turn", figure, value)
        # the worst client's calls: what its slowest spent the time on; p99.9 the worst of the four
        rows += figures.record_calls("processes killed in turn", {**slowest, "p999_ms": p999})
        width = max(len(a) for a, _ in rows)
        print("\n\nmake chaos — processes killed under four training clients\n" + "\n".join(
            f"  {a:<{width}}  {b}" for a, b in rows))  # fmt: skip
        assert stored == logged and doubled == 0
    finally:
        stop.write_text("")
        for p in procs:
            p.kill()
            p.communicate()
        stack.stop()
