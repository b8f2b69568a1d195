"""`make up`'s entry point as a user meets it: start, credentials written where the SDK finds
them, a script that sets nothing, the GET requests, Ctrl-C, and the same key after a restart."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import psutil
import pytest

from devstack import Ports
from tests.conftest import PYTHON
from tests.e2e.helpers import wait_for
from tests.e2e.test_first_path import SCRIPT

pytestmark = pytest.mark.engines


def start(env: dict[str, str]) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    proc = subprocess.Popen(
        [PYTHON, "-m", "devstack"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    readers[proc.pid] = reader
    return proc, lines


readers: dict[int, threading.Thread] = {}


def finish(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    readers.pop(proc.pid).join(10)  # it reaches the end of the pipe once the process is gone
    assert proc.stdout is not None
    proc.stdout.close()


def read_until(lines: queue.Queue[str], text: str, timeout: float = 120) -> str:
    seen = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {text!r} in:\n{''.join(seen)}") from None
        seen.append(line)
        if text in line:
            return "".join(seen)


def test_make_up_serves_a_script_that_configures_nothing(tmp_path: Path) -> None:
    p = Ports.free()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLANE_")}
    env.update(p.env(), TRACKLANE_DATA_DIR=str(tmp_path / "data"), TRACKLANE_CONFIG_DIR=str(tmp_path / "config"))
    proc, lines = start(env)
    try:
        banner = read_until(lines, "Ctrl-C stops everything")
        creds = json.loads((tmp_path / "config" / "credentials.json").read_text())
        assert creds["api_key"] in banner and creds["server"] == f"127.0.0.1:{p.ingestion}"
        assert oct((tmp_path / "config" / "credentials.json").stat().st_mode & 0o777) == "0o600"
        # the one-time sign-in link signs a browser in, once
        link = next(ln for ln in banner.splitlines() if "sign-in link" in ln).split("#link=")[1].split()[0]
        with httpx.Client(base_url=creds["gateway"]) as browser:
            assert browser.post("/api/v1/session", json={"link": link}).status_code == 200
            assert browser.post("/api/v1/session", json={"link": link}).status_code == 401

        # The script knows nothing but where the credentials file is (its default location).
        script_env = {k: v for k, v in env.items() if k == "TRACKLANE_CONFIG_DIR" or not k.startswith("TRACKLANE_")}
        run = subprocess.run([PYTHON, "-c", SCRIPT], env=script_env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        exp_id = run.stdout.strip()

        with httpx.Client(base_url=creds["gateway"], headers={"Authorization": f"Bearer {creds['api_key']}"}) as gw:
            wait_for("completion", lambda: gw.get(f"/api/v1/experiments/{exp_id}").json().get("status") == "completed")
            wait_for(
                "the points",
                lambda: (
                    gw.get(
                        f"/api/v1/experiments/{exp_id}/scalars", params={"metric": "loss", "variant": "train"}
                    ).json()["series"][0]["total_points"]
                    == 100_000
                ),
            )
            assert gw.get("/api/v1/experiments", params={"project": "demo"}).json()["total"] == 1
            ingest_metrics = httpx.get(f"http://127.0.0.1:{p.prometheus['ingestion']}/metrics").text
            assert "tracklane_ingest_points_total 100000.0" in ingest_metrics

        # A crashed service comes back by itself.
        # This supervisor's own metrics process (other stacks may run on the machine).
        [metrics] = [c for c in psutil.Process(proc.pid).children() if "services.metrics" in " ".join(c.cmdline())]
        metrics.kill()
        read_until(lines, "metrics exited; restarted it", timeout=30)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0
        read_until(lines, "Stopped.", timeout=5)
    finally:
        finish(proc)

    # Same data directory, same key.
    proc, lines = start(env)
    try:
        read_until(lines, "Ctrl-C stops everything")
        assert json.loads((tmp_path / "data" / "credentials.json").read_text())["api_key"] == creds["api_key"]
        with httpx.Client(base_url=creds["gateway"], headers={"Authorization": f"Bearer {creds['api_key']}"}) as gw:
            assert gw.get(f"/api/v1/experiments/{exp_id}").json()["status"] == "completed"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0
    finally:
        finish(proc)
