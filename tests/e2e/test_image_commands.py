"""The container image's entry point (``python -m services <command>``): the migrations Job runs
every migration once against real engines, and a wrong command says what the right ones are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import Stack
from tests.conftest import new_id

pytestmark = pytest.mark.engines


def _migrate(env: dict[str, str]) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "services", "migrate"], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (done.stdout + done.stderr).splitlines() if x.startswith("{")]
    [summary] = [x for x in lines if x.get("event") == "migrate.done"]
    return {"mongodb": summary["mongodb"], "clickhouse": summary["clickhouse"]}


def test_the_migrations_job_applies_each_migration_once(stack: Stack, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TRACKLANE_DATA_DIR": str(tmp_path),  # its own embedded ClickHouse directories
        "TRACKLANE_MONGODB_URL": stack.mongodb_url,
        "TRACKLANE_MONGODB_DATABASE": f"migrate_{new_id()[:10]}",
        "TRACKLANE_LOG_FORMAT": "json",
    }
    first = _migrate(env)
    assert "m0001_indexes" in first["mongodb"] and first["clickhouse"][0] == "0001_scalars"
    assert first["clickhouse"] == sorted(first["clickhouse"])
    assert _migrate(env) == {"mongodb": [], "clickhouse": []}  # run again: nothing left to apply

    wrong = subprocess.run([sys.executable, "-m", "services", "migrat"], capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "migrate" in wrong.stderr and "gateway" in wrong.stderr
    broken = subprocess.run(
        [sys.executable, "-m", "services", "migrate"],
        env={**env, "TRACKLANE_MONGODB_URL": "mongodb://127.0.0.1:1/", "TRACKLANE_MONGODB_DATABASE": "x"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert broken.returncode == 1 and broken.stderr.startswith("migrate: ")  # one line that says what failed
