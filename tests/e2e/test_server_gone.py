"""The whole server gone — every service and NATS stopped — under a running training loop:
``log_scalar`` never waits for it (its call times are printed: max and p99.9), the SDK's memory
stays at its limit (the rest goes to the spill journal), and every point arrives once the server
is back, none twice. ``CHAOS_OUTAGE_S`` sets the outage (15 s in ``make test``; ``make chaos``
runs 10 minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests import figures
from tests.conftest import API_KEY, start_stack
from tests.e2e.helpers import gateway, total_points, wait_for

pytestmark = pytest.mark.engines
OUTAGE_S = float(os.environ.get("CHAOS_OUTAGE_S", "15"))

LOOP = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import tracklane
    from tests.figures import CallTimer
    stop = Path(sys.argv[1])
    # (a long outage leaves a long backlog: close waits up to 10 minutes for it to be acknowledged)
    exp = tracklane.init(project="server-gone", name="loop", monitor_interval=None, capture_console=False,
                         flush_timeout=600)
    print("ID", exp.id, flush=True)
    timer, i, held = CallTimer(), 0, 0
    while not stop.exists():
        for _ in range(100):
            timer.call(exp.log_scalar, "loss", "train", 1.0 / (i + 1), iteration=i)
            i += 1
        held = max(held, exp._sender._pending_bytes)  # what the SDK holds in memory, unacknowledged
        time.sleep(0.01)  # a training step
    closing = time.monotonic()
    delivered = exp.close()
    closed_s = time.monotonic() - closing
    print(json.dumps({"points": i, "delivered": delivered, "spilled": exp._sender.spilled_batches,
                      "held_bytes": held, "limit_bytes": exp._sender.memory_limit, "closed_s": closed_s,
                      **timer.summary()}), flush=True)
    """
)


@pytest.mark.timeout(OUTAGE_S + 900)  # the outage, then the restart and every point delivered
def test_a_training_loop_never_waits_for_a_server_that_is_gone(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "server")
    stop = tmp_path / "stop"
    env = {**os.environ, "TRACKLANE_SERVER": stack.ingestion_addr, "TRACKLANE_API_KEY": API_KEY,
           "TRACKLANE_CACHE_DIR": str(tmp_path / "cache"), "TRACKLANE_MEMORY_LIMIT_MB": "1"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", LOOP, str(stop)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        exp = proc.stdout.readline().split()[1]
        with gateway(stack) as gw:
            wait_for("the first points", lambda: total_points(gw, exp, "loss", "train") > 0)
        stack.stop()  # every service and NATS: the whole server is gone
        time.sleep(OUTAGE_S)
        restarted = threading.Thread(target=stack.start)
        restarted.start()
        restarted.join()
        time.sleep(2)  # the loop logs on a little with the server back
        stop.write_text("")
        result = json.loads(proc.stdout.readline())
        assert proc.wait(timeout=120) == 0
        figures_ms = f"{result['max_ms']:.1f} ms / {result['p999_ms']:.3f} ms"
        print(f"\nserver gone {OUTAGE_S:.0f} s: {result['points']:,} points, log_scalar {figures_ms}, "
              f"{result['spilled']} batches spilled")  # fmt: skip
        suite = f"whole server gone {OUTAGE_S:.0f} s"
        figures.record(suite, "points logged during and around it", f"{result['points']:,}")
        figures.record_calls(suite, result)
        figures.record(suite, "batches spilled past the 1 MB memory limit", f"{result['spilled']:,}")
        held = f"{result['held_bytes'] / 1024:,.0f} KiB of {result['limit_bytes'] / 1024:,.0f} KiB"
        figures.record(suite, "the most the SDK held in memory, unacknowledged", held)
        figures.record(suite, "close() until the backlog was acknowledged", f"{result['closed_s']:.0f} s")
        assert result["delivered"] is True and result["spilled"] > 0  # it did spill past its memory, and sent it all
        assert 0 < result["held_bytes"] <= result["limit_bytes"]
        with gateway(stack) as gw:
            everything = result["points"]
            wait_for(f"all {everything:,} points",
                     lambda: total_points(gw, exp, "loss", "train") == everything or None, timeout=180)  # fmt: skip
            series = gw.get(f"/api/v1/experiments/{exp}/scalars", params={"samples": 20000}).json()["series"][0]
            assert sum(series["count"]) == result["points"]  # none doubled
        figures.record(suite, "points stored after the restart / lost / twice", f"{result['points']:,} / 0 / 0")
    finally:
        proc.kill()
        proc.communicate()
        stack.stop()
