"""The archiver keeps the whole event log in object storage: every position of the stream, byte
for byte, through the artifact service being killed with -9 while events keep coming."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from devstack import Stack
from services.artifact import archive
from services.artifact.store import FileObjectStore
from services.common import bus
from tests.conftest import batch, new_id, scalar_event, start_stack
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, wait_for

pytestmark = pytest.mark.engines


def _send(stack: Stack, exp: str, seqs: range) -> None:
    stub = ingest(stack)
    for seq in seqs:
        points = [("loss", "train", seq * 100 + i, 1.0 / (i + 1)) for i in range(100)]
        stub.Append(batch(exp, scalar_event(seq, points)), metadata=AUTH, timeout=30)


def _stream(stack: Stack) -> dict[int, bytes]:
    """Every message of the stream, by position."""

    async def read() -> dict[int, bytes]:
        nc = await nats.connect(stack.nats_url)
        try:
            js = nc.jetstream()
            state = (await js.stream_info(bus.STREAM)).state
            out = {}
            for seq in range(state.first_seq, state.last_seq + 1):
                out[seq] = (await js.get_msg(bus.STREAM, seq)).data or b""
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def _ack_wait(stack: Stack) -> float:
    async def read() -> float:
        nc = await nats.connect(stack.nats_url)
        try:
            return float((await nc.jetstream().consumer_info(bus.STREAM, archive.DURABLE)).config.ack_wait or 0)
        finally:
            await nc.close()

    return asyncio.run(read())


def test_the_archive_holds_every_event_through_a_crash(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, TRACKLANE_ARCHIVE_FLUSH_S="0.3")
    try:
        exp = new_id()
        open_experiment(stack, exp)
        _send(stack, exp, range(1, 21))
        with gateway(stack) as gw:  # events of other kinds and subjects: a report, a project's settings
            assert gw.post("/api/v1/reports", json={"name": "Archived", "project": "archive-e2e"}).status_code == 201
        stack.kill("artifact")  # kill -9: whatever batch it had in hand was not acknowledged
        _send(stack, exp, range(21, 41))  # acknowledged while the archiver is down
        stack.extra_env["TRACKLANE_ARCHIVE_FLUSH_S"] = "10"  # started again with other settings
        stack.start_service("artifact")
        wait_for("the archiver's consumer to take the new settings",
                 lambda: _ack_wait(stack) == 40.0 or None, timeout=30)  # fmt: skip
        _send(stack, exp, range(41, 51))

        store = FileObjectStore(stack.data_dir / "objects", b"-", "http://unused")
        log = _stream(stack)
        last = max(log)
        # What the killed archiver had in hand comes back once its acknowledgement is overdue (30 s).
        whole = list(range(1, last + 1))
        wait_for("the archive to hold the whole log", lambda: [p for p, _ in archive.read(store)] == whole or None,
                 timeout=120)  # fmt: skip
        archived = dict(archive.read(store))
        assert sorted(archived) == sorted(log) == list(range(1, last + 1))
        assert all(archived[p] == log[p] for p in log)  # byte for byte, as stored on the log
        assert len(archive.objects(store)) >= 2  # batches, not one object per event nor one for all
    finally:
        stack.stop()
