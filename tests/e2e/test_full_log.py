"""A full event log (a JetStream store of 8 MB): ingestion refuses with RESOURCE_EXHAUSTED, saying
so, and acknowledges nothing of the refused batch; the SDK keeps what it could not send (training
goes on) and sends it once the log has room again — the store grown and NATS restarted — so every
point arrives, none twice."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
import tracklane

from devstack import Stack
from tests import figures
from tests.conftest import API_KEY, batch, new_id, scalar_event, start_stack
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for
from tests.figures import CallTimer

pytestmark = pytest.mark.engines
PER_EVENT = 10_000  # ~290 KB in the log
SDK_POINTS = 30_000  # logged by a training loop while the log is full


def test_a_full_log_is_refused_with_resource_exhausted_and_nothing_is_lost(tmp_path: Path) -> None:
    try:
        stack = start_stack(tmp_path / "1", TRACKLANE_NATS_MAX_FILE_STORE="8MB")
    except RuntimeError:  # a service's first JetStream call timed out on a busy machine: once more
        stack = start_stack(tmp_path / "2", TRACKLANE_NATS_MAX_FILE_STORE="8MB")
    try:
        raw = new_id()
        open_experiment(stack, raw, project="full-log")
        stub = ingest(stack)
        refused: grpc.RpcError | None = None
        acked = 0
        for seq in range(1, 80):
            try:
                stub.Append(batch(raw, scalar_event(seq, _points(seq))), metadata=AUTH, timeout=30)
            except grpc.RpcError as exc:
                refused = exc
                break
            acked = seq
        assert isinstance(refused, grpc.Call) and refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "event log is full" in (refused.details() or "") and 0 < acked < 79

        run = tracklane.init(project="full-log", name="sdk", server=stack.ingestion_addr, api_key=API_KEY)
        timer = CallTimer()
        for i in range(SDK_POINTS):  # training goes on: the calls never wait for the full log (one that did would hang)
            timer.call(run.log_scalar, "loss", "train", 1.0 / (i + 1), i)
        run.flush()
        wait_for("the SDK to hold what the log refused", lambda: run._sender.pending > 0, timeout=30)

        stack.extra_env["TRACKLANE_NATS_MAX_FILE_STORE"] = "1GB"  # an operator grows the store
        stack.stop_one("nats")
        stack.start_engine("nats")
        # the refused raw batch, sent again as a client would (its event id dedups what did land)
        wait_for("the log to take the batch again", lambda: _append(stack, raw, acked + 1), timeout=60)
        assert run.close()  # everything the SDK kept is acknowledged
        with gateway(stack) as gw:
            wait_for("the SDK's points", lambda: total_points(gw, run.id, "loss", "train") == SDK_POINTS, timeout=120)
            want = (acked + 1) * PER_EVENT
            wait_for("the raw points", lambda: total_points(gw, raw, "loss", "train") == want, timeout=120)
            time.sleep(1)  # and no more than that: nothing doubled
            stored = total_points(gw, run.id, "loss", "train")
            assert stored == SDK_POINTS
            assert total_points(gw, raw, "loss", "train") == want
        suite = "a full event log (8 MB store)"
        figures.record(suite, "raw batches taken, then", f"{acked}, then RESOURCE_EXHAUSTED")
        figures.record(suite, "SDK points logged while refused / stored after / twice",
                       f"{SDK_POINTS:,} / {stored:,} / {stored - SDK_POINTS:,}")  # fmt: skip
        figures.record_calls(suite, timer.summary())
    finally:
        stack.stop()


def _points(seq: int) -> list[tuple[str, str, int, float]]:
    return [("loss", "train", (seq - 1) * PER_EVENT + i, 1.0) for i in range(PER_EVENT)]


def _append(stack: Stack, exp: str, seq: int) -> bool:
    try:
        ingest(stack).Append(batch(exp, scalar_event(seq, _points(seq))), metadata=AUTH, timeout=10)
    except grpc.RpcError:
        return False
    return True
