"""The SDK's transport across real processes: stop from outside, the heartbeat timeout, the
spill-to-disk journal while ingestion is down, and offline runs uploaded by ``tracklane sync``."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import grpc
import pytest
from tracklane_proto import ingest_pb2

from devstack import Stack
from tests.conftest import API_KEY, PYTHON, new_id, start_stack
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines


def _env(stack: Stack, cache: Path, **extra: str) -> dict[str, str]:
    base = {"TRACKLANE_SERVER": stack.ingestion_addr, "TRACKLANE_API_KEY": API_KEY, "TRACKLANE_CACHE_DIR": str(cache)}
    return {**os.environ, **base, **extra}


def _started(proc: subprocess.Popen[str]) -> str:
    """The experiment id the script prints first."""
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("ID "), line
    return line[3:]


def _end(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.communicate()  # reaps it and closes its pipes


STOPPABLE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import tracklane
    marker = Path(sys.argv[1])
    with tracklane.init(project="stop", name=sys.argv[2], monitor_interval=None,
                        on_abort=lambda: marker.write_text("aborted")) as exp:
        print("ID", exp.id, flush=True)
        try:
            if sys.argv[2] == "sleeping":
                time.sleep(600)  # blocked in a system call: the stop must still get through
            i = 0
            while True:
                exp.log_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
                i += 1
                time.sleep(0.01)
        except tracklane.InterruptedExperiment as exc:
            if sys.argv[2] not in ("caught", "explicit"):
                raise
            # as Comet's docs show: catch it, save, and leave normally
            print("caught", exc, file=sys.stderr, flush=True)
            if sys.argv[2] == "explicit":
                exp.close(status="completed", reason="the script says so")
    """
)


@pytest.mark.parametrize(
    ("mode", "ends"),
    [("looping", "stopped"), ("sleeping", "stopped"), ("caught", "stopped"), ("explicit", "completed")],
)
def test_stop_reaches_a_running_script_and_ends_it(stack: Stack, tmp_path: Path, mode: str, ends: str) -> None:
    """A stop request ends the run ``stopped`` with its reason, whether the script lets
    InterruptedExperiment propagate or catches it and exits normally; an explicit
    ``close(status=…)`` still wins."""
    marker = tmp_path / "aborted"
    proc = subprocess.Popen(
        [PYTHON, "-c", STOPPABLE, str(marker), mode],
        env=_env(stack, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exp = _started(proc)
        with gateway(stack) as gw:
            wait_for("the run", lambda: gw.get(f"/api/v1/experiments/{exp}").status_code == 200)
            r = gw.post(f"/api/v1/experiments/{exp}/stop", json={"reason": "enough"})
            assert r.status_code in (200, 202), r.text
            asked = time.monotonic()
            _, err = proc.communicate(timeout=60)
            took = time.monotonic() - asked  # reported, not asserted: the machines are shared
            print(f"stop reached the script and ended it in {took:.2f}s")
            assert ("caught enough" if mode in ("caught", "explicit") else "InterruptedExperiment: enough") in err
            assert proc.returncode == (0 if mode in ("caught", "explicit") else 1)
            assert marker.read_text() == "aborted"  # the abort callback ran first
            done = wait_for(ends, lambda: (b := gw.get(f"/api/v1/experiments/{exp}").json())["status"] == ends and b)
            reason = "the script says so" if mode == "explicit" else "enough"
            assert done["status_reason"] == reason and done["stop_requested"]
            if mode == "looping":  # what was logged before the stop was flushed
                assert total_points(gw, exp, "loss", "train") > 0
    finally:
        _end(proc)


def test_stop_validation(stack: Stack) -> None:
    with gateway(stack) as gw:
        assert gw.post(f"/api/v1/experiments/{new_id()}/stop").status_code == 404
        exp = new_id()
        open_experiment(stack, exp)
        wait_for("the experiment", lambda: gw.get(f"/api/v1/experiments/{exp}").status_code == 200)
        r = gw.post(f"/api/v1/experiments/{exp}/stop", json={"reason": 5})
        assert r.status_code == 400 and r.json()["error"]["field"] == "reason"


@pytest.fixture
def quick_stack(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A stack whose metadata service gives up on silent clients after 3 s."""
    s = start_stack(tmp_path_factory.mktemp("quick"), TRACKLANE_HEARTBEAT_TIMEOUT="3", TRACKLANE_ALIVE_INTERVAL="0.5")
    yield s
    s.stop()


def test_heartbeats_keep_a_run_alive_and_their_absence_stops_it(quick_stack: Stack, tmp_path: Path) -> None:
    stack = quick_stack
    silent = new_id()
    open_experiment(stack, silent)  # a client that never comes back
    script = "import time, tracklane\nexp = tracklane.init(project='hb', name='alive', monitor_interval=None)\n"
    script += "print('ID', exp.id, flush=True)\ntime.sleep(8)\nexp.close()\n"
    env = _env(stack, tmp_path, TRACKLANE_HEARTBEAT_INTERVAL="0.5")
    proc = subprocess.Popen([PYTHON, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    try:
        alive = _started(proc)
        with gateway(stack) as gw:
            gone = wait_for(
                "the silent run to be stopped",
                lambda: (b := gw.get(f"/api/v1/experiments/{silent}").json()).get("status") == "stopped" and b,
                timeout=30,
            )
            assert "no heartbeat" in gone["status_reason"]
            # idle but heartbeating: still running well past the timeout
            assert gw.get(f"/api/v1/experiments/{alive}").json()["status"] == "running"
            assert proc.wait(timeout=30) == 0
            wait_for("completed", lambda: gw.get(f"/api/v1/experiments/{alive}").json()["status"] == "completed")
    finally:
        _end(proc)


def test_a_stream_that_opens_after_the_stop_request_still_gets_it(stack: Stack) -> None:
    exp = new_id()
    open_experiment(stack, exp)
    with gateway(stack) as gw:
        wait_for("the experiment", lambda: gw.get(f"/api/v1/experiments/{exp}").status_code == 200)
        assert gw.post(f"/api/v1/experiments/{exp}/stop").status_code in (200, 202)
    hello = ingest_pb2.ClientMessage(heartbeat=ingest_pb2.Heartbeat(experiment_id=exp))
    call = ingest(stack).Stream(iter([hello]), metadata=AUTH, timeout=10)
    try:
        first = next(iter(call))
    except grpc.RpcError as exc:  # pragma: no cover - shows what went wrong
        raise AssertionError(exc) from None
    assert first.WhichOneof("msg") == "control" and first.control.action == "stop"


SPILLER = textwrap.dedent(
    """
    import sys, time
    import tracklane
    exp = tracklane.init(project="spill", name="outage", monitor_interval=None, capture_console=False)
    print("ID", exp.id, flush=True)
    for i in range(200_000):
        exp.log_scalar("loss", "train", float(i), iteration=i)
        if i % 1000 == 999:
            time.sleep(0.02)
    print("DONE", exp.close(), exp._sender.spilled_batches, flush=True)
    """
)


def test_the_spill_journal_loses_nothing_while_ingestion_is_down(own_stack: Stack, tmp_path: Path) -> None:
    stack = own_stack
    env = _env(stack, tmp_path / "cache", TRACKLANE_MEMORY_LIMIT_MB="0.5")
    proc = subprocess.Popen([PYTHON, "-c", SPILLER], env=env, stdout=subprocess.PIPE, text=True)
    try:
        exp = _started(proc)
        with gateway(stack) as gw:
            wait_for("the first points", lambda: total_points(gw, exp, "loss", "train") > 0)
            stack.kill("ingestion")
            time.sleep(3)  # the script keeps logging into memory, then into the journal
            stack.start_service("ingestion")
            assert proc.stdout is not None
            done = proc.stdout.readline().split()
            assert proc.wait(timeout=120) == 0
            assert done[:2] == ["DONE", "True"] and int(done[2]) > 0, done  # it did spill, and delivered all
            wait_for("all 200,000 points", lambda: total_points(gw, exp, "loss", "train") == 200_000, timeout=90)
            series = gw.get(f"/api/v1/experiments/{exp}/scalars", params={"samples": 20000}).json()["series"][0]
            assert sum(series["count"]) == 200_000  # none doubled either
        assert not (tmp_path / "cache" / "offline" / exp).exists()  # the journal is gone once delivered
    finally:
        _end(proc)


OFFLINE = textwrap.dedent(
    """
    import tracklane
    with tracklane.init(project="offline", name="plane", monitor_interval=None) as exp:
        exp.log_params({"lr": 0.1})
        for i in range(1000):
            exp.log_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
        exp.upload_artifact("stats", {"ok": True})
        print("offline run")
    print("ID", exp.id)
    """
)


def test_offline_runs_upload_with_tracklane_sync(stack: Stack, tmp_path: Path) -> None:
    env = _env(stack, tmp_path / "cache", TRACKLANE_OFFLINE="1", TRACKLANE_SERVER="127.0.0.1:1")  # no server
    run = subprocess.run([PYTHON, "-c", OFFLINE], env=env, capture_output=True, text=True, timeout=60, check=True)
    exp = run.stdout.strip().split("ID ")[-1]
    directory = tmp_path / "cache" / "offline" / exp
    assert (directory / "events.tlj").stat().st_size > 0
    with gateway(stack) as gw:
        assert gw.get(f"/api/v1/experiments/{exp}").status_code == 404  # nothing reached the server
        sync_env = _env(stack, tmp_path / "cache")
        cli = [PYTHON, "-m", "tracklane.cli", "sync", str(tmp_path / "cache" / "offline")]
        for _ in range(2):  # a second sync is harmless
            out = subprocess.run(cli, env=sync_env, capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            assert "synced" in out.stderr
        wait_for("the synced run", lambda: gw.get(f"/api/v1/experiments/{exp}").json().get("status") == "completed")
        wait_for("its points", lambda: total_points(gw, exp, "loss", "train") == 1000)
        cfg = gw.get(f"/api/v1/experiments/{exp}/configuration").json()
        assert cfg["hyperparameters"][0]["params"][0]["value"] == "0.1"
        arts = wait_for("the artifact", lambda: gw.get(f"/api/v1/experiments/{exp}/artifacts").json()["artifacts"])
        assert arts[0]["name"] == "stats"
        console = gw.get(f"/api/v1/experiments/{exp}/console").json()["lines"]
        assert [ln["text"] for ln in console] == ["offline run"]


def test_sync_says_what_to_do_when_there_is_nothing(tmp_path: Path) -> None:
    out = subprocess.run([PYTHON, "-m", "tracklane.cli", "sync", str(tmp_path)], capture_output=True, text=True,
                         env=dict(os.environ, TRACKLANE_API_KEY="x"), timeout=60)  # fmt: skip
    assert out.returncode == 1 and "nothing to sync" in out.stderr
