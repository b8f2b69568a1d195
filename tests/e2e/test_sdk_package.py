"""The client distribution alone: ``sdk/`` installed into an empty virtual environment is light,
pulls in none of the server, and logs a run to a running stack."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from devstack import Stack
from tests.conftest import API_KEY
from tests.e2e.helpers import gateway, total_points, wait_for

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"
MAX_INSTALLED_MB = 150
RUN = textwrap.dedent(
    """
    import sys
    import tracklane
    with tracklane.init(project="light-client", name="from a bare venv", monitor_interval=None) as exp:
        for i in range(1000):
            exp.log_scalar("loss", "train", 1 / (i + 1), iteration=i)
    print(exp.id)
    """
)


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty virtual environment with only ``sdk/`` installed. uv's pip (the ``make venv``
    tool; same resolution as pip, and its cache makes this take a second) installs it."""
    venv = tmp_path_factory.mktemp("client") / "venv"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([str(UV), "venv", "-q", "--python", "python3", str(venv)], check=True, env=env)
    subprocess.run(
        [str(UV), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(ROOT / "sdk")],
        check=True,
        env=env,
    )
    return venv


def test_the_client_is_light_and_pulls_in_no_server(client_venv: Path, tmp_path: Path) -> None:
    size = _size_mb(client_venv)
    print(f"sdk/ installed into an empty virtual environment: {size:.0f} MB")
    assert size < MAX_INSTALLED_MB
    python = str(client_venv / "bin" / "python")
    for server_module in ("chdb", "nats", "pymongo", "starlette", "services", "gateway"):
        probe = subprocess.run(
            [python, "-c", f"import {server_module}"], capture_output=True, text=True, cwd=tmp_path, env={}
        )
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, server_module


def test_importing_the_protocol_runs_no_sdk_hook(client_venv: Path) -> None:
    """Server processes import ``tracklane_proto``: that must not import the SDK (which patches
    argparse to record arguments)."""
    python = str(client_venv / "bin" / "python")
    code = "import argparse, sys; p = argparse.ArgumentParser.parse_known_args; import tracklane_proto.ingest_pb2; "
    code += "print('tracklane' in sys.modules, argparse.ArgumentParser.parse_known_args is p)"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, cwd="/").stdout.split()
    assert out == ["False", "True"]


def test_the_bare_client_logs_a_run(client_venv: Path, stack: Stack, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TRACKLANE_SERVER": stack.ingestion_addr,
        "TRACKLANE_API_KEY": API_KEY,
        "TRACKLANE_CACHE_DIR": str(tmp_path),
        "PYTHONPATH": "",  # nothing of the repository: only what the venv has
    }
    done = subprocess.run(
        [str(client_venv / "bin" / "python"), "-c", RUN], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    exp = done.stdout.strip().splitlines()[-1]
    with gateway(stack) as gw:
        assert wait_for("1000 points", lambda: total_points(gw, exp, "loss", "train") == 1000)
        run = wait_for(
            "completed", lambda: (r := gw.get(f"/api/v1/experiments/{exp}").json())["status"] == "completed" and r
        )
        assert run["project"] == "light-client"
