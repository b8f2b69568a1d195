"""Shared fixtures: real engines on free loopback ports, and helpers to build wire messages."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tracklane_proto import events_pb2, ingest_pb2

from devstack import Ports, Stack, free_port, which

API_KEY = "tl_test_" + uuid.uuid4().hex


def scalar_event(
    seq: int,
    points: list[tuple[str, str, int, float]],
    *,
    timestamps: list[float] | None = None,
) -> events_pb2.Event:
    """An event with the given (metric, variant, iteration, value) points, columnar."""
    keys: dict[tuple[str, str], int] = {}
    for m, v, _, _ in points:
        keys.setdefault((m, v), len(keys))
    now = time.time()
    return events_pb2.Event(
        seq=seq,
        client_time=now,
        scalars=events_pb2.ScalarBatch(
            series=[events_pb2.SeriesKey(metric=m, variant=v) for m, v in keys],
            series_index=np.array([keys[(m, v)] for m, v, _, _ in points], dtype="<u4").tobytes(),
            iterations=np.array([p[2] for p in points], dtype="<i8").tobytes(),
            values=np.array([p[3] for p in points], dtype="<f8").tobytes(),
            timestamps=np.array(timestamps or [now + i * 1e-3 for i in range(len(points))], dtype="<f8").tobytes(),
        ),
    )


def batch(experiment_id: str, *events: events_pb2.Event) -> ingest_pb2.EventBatch:
    return ingest_pb2.EventBatch(experiment_id=experiment_id, events=list(events))


def new_id() -> str:
    return uuid.uuid4().hex


MONGO_TARGETS = ["nx-27017"] + (["TRACKLANE_MONGODB_URL"] if os.environ.get("TRACKLANE_MONGODB_URL") else [])


@pytest.fixture(scope="session", params=MONGO_TARGETS)
def mongo_url(request: pytest.FixtureRequest) -> str:
    """Every MongoDB-wire server the contract runs against: nx-27017 always, and the real
    MongoDB of TRACKLANE_MONGODB_URL too when it is set."""
    if request.param == "TRACKLANE_MONGODB_URL":
        return os.environ["TRACKLANE_MONGODB_URL"]
    url: str = request.getfixturevalue("nx_url")
    return url


CLICKHOUSE_TARGETS = ["chdb"] + (
    [os.environ["TRACKLANE_TEST_CLICKHOUSE_URL"]] if os.environ.get("TRACKLANE_TEST_CLICKHOUSE_URL") else []
)


@pytest.fixture(scope="session")
def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The one chDB data directory of the test process (chDB allows one per process): stores and
    indexes share it, each test with names or experiments of its own."""
    return f"chdb://{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture(scope="session")
def nx_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nx-27017 on a free loopback port."""
    folder, port = tmp_path_factory.mktemp("nx"), free_port()
    args = ["--data-dir", str(folder), "-p", str(port), "--pid-file", str(folder / "pid"),
            "--log-file", str(folder / "log")]  # fmt: skip
    with _running("nx-27017", args, port):
        yield f"mongodb://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nats-server with JetStream on a free loopback port."""
    folder, port = tmp_path_factory.mktemp("nats"), free_port()
    with _running("nats-server", ["-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(folder)], port):
        yield f"nats://127.0.0.1:{port}"


@contextlib.contextmanager
def _running(program: str, args: list[str], port: int) -> Iterator[None]:
    """``program`` started with ``args``, once it listens on ``port``; stopped after."""
    proc = subprocess.Popen([which(program), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        Stack._wait_tcp(_Waiter(proc), port, program)  # type: ignore[arg-type]
        yield
    finally:
        proc.terminate()
        proc.wait(10)


class _Waiter:
    """Lets a bare process use Stack's wait helpers."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.data_dir = Path("/nonexistent")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"exited with {self.proc.returncode}")

    _deadline_loop = Stack._deadline_loop


def start_stack(tmp: Path, **env: str) -> Stack:
    # A short key cache so that revocation tests need not wait the default 10 s.
    extra = {"TRACKLANE_LOG_LEVEL": "info", "TRACKLANE_KEY_CACHE_TTL": "1", **env}
    stack = Stack(tmp, API_KEY, Ports.free(), extra_env=extra)
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole platform, every service its own process, shared by the read-only e2e tests."""
    s = start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.stop()


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    """A private platform for tests that kill processes."""
    s = start_stack(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def sdk_env(stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Stack:
    monkeypatch.setenv("TRACKLANE_SERVER", stack.ingestion_addr)
    monkeypatch.setenv("TRACKLANE_API_KEY", API_KEY)
    monkeypatch.setenv("TRACKLANE_CONFIG_DIR", str(tmp_path / "config"))
    return stack


PYTHON = sys.executable


S3_ACCESS = "TLTESTACCESSKEY12345"
S3_SECRET = "tlTestSecretKey0123456789abcdefghijklmnop"


@pytest.fixture(scope="session")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 server: Ceph radosgw from Debian on loopback (``make s3-engine`` installs it),
    or TRACKLANE_TEST_S3_URL (with TRACKLANE_TEST_S3_ACCESS_KEY/SECRET_KEY) when set."""
    if url := os.environ.get("TRACKLANE_TEST_S3_URL"):
        yield url
        return
    if not Path("/usr/bin/radosgw").exists():
        pytest.fail("radosgw is not installed: run `make s3-engine` (as root) so the S3 adapter is tested for real")
    folder = tmp_path_factory.mktemp("radosgw")
    port = free_port()
    script = Path(__file__).resolve().parent.parent / "deploy" / "local" / "radosgw.sh"
    subprocess.run(
        ["bash", str(script), str(folder), str(port), str(free_port()), str(free_port()), S3_ACCESS, S3_SECRET],
        check=True, timeout=240, capture_output=True,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for pid_file in sorted((folder / "run").glob("*.pid"), reverse=True):
            with contextlib.suppress(ProcessLookupError, ValueError):  # already gone
                os.kill(int(pid_file.read_text().strip()), 15)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault suites' figures (tests/figures.py), one table: what ``make chaos`` prints."""
    from tests import figures

    lines = figures.table()
    if lines:
        terminalreporter.write_sep("=", "figures of the fault suites")
        for line in lines:
            terminalreporter.write_line(line)
