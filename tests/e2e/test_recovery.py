"""Nothing acknowledged is lost and nothing is counted twice: consumers killed with -9 in the
middle of a stream, events delivered twice, services stopped and started again."""

from __future__ import annotations

import asyncio
import signal

import nats
import pytest

from devstack import Stack
from services.common import bus
from tests import figures
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines

BATCHES, PER_BATCH = 40, 5_000
N = BATCHES * PER_BATCH


def send(stack: Stack, exp: str, seqs: range) -> None:
    stub = ingest(stack)
    for seq in seqs:
        start = (seq - 1) * PER_BATCH
        points = [("loss", "train", i, 1.0 / (i + 1)) for i in range(start, start + PER_BATCH)]
        stub.Append(batch(exp, scalar_event(seq, points)), metadata=AUTH, timeout=30)


@pytest.mark.parametrize("victim", ["metrics", "metadata"])
def test_a_consumer_killed_mid_stream_loses_and_duplicates_nothing(own_stack: Stack, victim: str) -> None:
    stack = own_stack
    exp = new_id()
    open_experiment(stack, exp)
    with gateway(stack) as gw:
        send(stack, exp, range(1, BATCHES // 2 + 1))
        if victim == "metrics":
            # Kill while the projection is part-way through what was sent.
            wait_for("the projection to start", lambda: total_points(gw, exp, "loss", "train") > 0, timeout=60)
        stack.kill(victim)  # kill -9: no chance to finish or ack anything in hand
        send(stack, exp, range(BATCHES // 2 + 1, BATCHES + 1))  # acknowledged while it is down
        stack.start_service(victim)
        wait_for(f"all {N} points", lambda: total_points(gw, exp, "loss", "train") >= N, timeout=120)
        # Give any duplicate the time to show up, then check the exact count again.
        wait_for("the consumers to drain", lambda: consumers_idle(stack), timeout=60)
        assert total_points(gw, exp, "loss", "train") == N
        r = gw.get(f"/api/v1/experiments/{exp}/scalars", params={"metric": "loss", "variant": "train", "samples": 1000})
        assert sum(r.json()["series"][0]["count"]) == N
        summary = wait_for(
            "the metric summary",
            lambda: next(
                (m for m in gw.get(f"/api/v1/experiments/{exp}").json()["metrics"] if m["last_iteration"] == N - 1),
                None,
            ),
        )
        assert summary["max"] == 1.0 and summary["min"] == pytest.approx(1.0 / N)
        figures.record("a consumer killed mid-stream", f"{victim}: points sent / stored / twice", f"{N:,} / {N:,} / 0")


def consumers_idle(stack: Stack) -> bool:
    async def probe() -> bool:
        nc = await nats.connect(stack.nats_url)
        try:
            js = nc.jetstream()
            for durable in ("metrics-scalars", "metadata"):
                info = await js.consumer_info(bus.STREAM, durable)
                if info.num_pending or info.num_ack_pending:
                    return False
            return True
        finally:
            await nc.close()

    return asyncio.run(probe())


def test_redelivered_events_change_nothing(stack: Stack) -> None:
    """Publishes every event of an experiment a second time under a new Nats-Msg-Id, as a
    redelivery after JetStream's duplicate window would: both projections must ignore them."""
    exp = new_id()
    open_experiment(stack, exp)
    send(stack, exp, range(1, 5))
    with gateway(stack) as gw:
        wait_for("the points", lambda: total_points(gw, exp, "loss", "train") == 4 * PER_BATCH)
        wait_for("the summary", lambda: gw.get(f"/api/v1/experiments/{exp}").json()["metrics"])
        wait_for("the consumers to drain", lambda: consumers_idle(stack))
        before = gw.get(f"/api/v1/experiments/{exp}").json()

        async def replay() -> int:
            nc = await nats.connect(stack.nats_url)
            js = nc.jetstream()
            sub = await js.subscribe(f"tl.ev.*.{exp}.>", ordered_consumer=True)
            originals = []
            try:
                while True:  # read them all first: the copies land on the same subjects
                    msg = await sub.next_msg(timeout=5)
                    originals.append(msg)
                    if msg.metadata.num_pending == 0:
                        break
                await sub.unsubscribe()
                for i, msg in enumerate(originals):
                    await js.publish(msg.subject, msg.data, headers={"Nats-Msg-Id": f"replay-{i}-{exp}"})
            finally:
                await nc.close()
            return len(originals)

        copies = asyncio.run(replay())
        assert copies == 1 + 4  # the creation event and the four batches
        wait_for("the consumers to drain", lambda: consumers_idle(stack))
        assert total_points(gw, exp, "loss", "train") == 4 * PER_BATCH
        after = gw.get(f"/api/v1/experiments/{exp}").json()
        assert after["metrics"] == before["metrics"] and after["status"] == before["status"]


def test_services_stop_gracefully_and_data_survives_a_restart(own_stack: Stack) -> None:
    stack = own_stack
    exp = new_id()
    open_experiment(stack, exp, project="persist")
    send(stack, exp, range(1, 3))
    with gateway(stack) as gw:
        wait_for("the points", lambda: total_points(gw, exp, "loss", "train") == 2 * PER_BATCH)
    stack.signal("metrics", signal.SIGTERM)
    assert stack.procs["metrics"].wait(30) == 0
    stack.procs.pop("metrics")
    stack.stop()
    stack.start()  # same data directory, same ports
    with gateway(stack) as gw:
        assert total_points(gw, exp, "loss", "train") == 2 * PER_BATCH
        assert gw.get("/api/v1/experiments", params={"project": "persist"}).json()["total"] == 1
