"""The NATS configuration of the Kubernetes manifests (k8s/components/nats/nats.conf), run for
real: three nats-server processes on loopback, each from that same file with its own variables,
form a JetStream cluster; Tracklane's event stream is made with 3 replicas; the stream's leader is
killed (SIGKILL) in the middle of publishing, then, once it is back, the new leader; every
acknowledged event is in the stream once."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nats.errors
import nats.js.errors
import pytest

from devstack import free_port
from services.common import bus
from tests import figures

pytestmark = pytest.mark.engines

CONF = Path(__file__).resolve().parents[2] / "k8s" / "components" / "nats" / "nats.conf"
EVENTS = 600


class Node:
    def __init__(self, i: int, root: Path, ports: list[tuple[int, int, int]]) -> None:
        self.name = f"nats-{i}"
        self.client, self.cluster, self.monitor = ports[i]
        self.env = {
            **os.environ,
            "NATS_SERVER_NAME": self.name,
            "NATS_LISTEN": f"127.0.0.1:{self.client}",
            "NATS_MONITOR": f"127.0.0.1:{self.monitor}",
            "NATS_CLUSTER_LISTEN": f"127.0.0.1:{self.cluster}",
            "NATS_STORE_DIR": str(root / self.name),
            "NATS_PID_FILE": str(root / f"{self.name}.pid"),
            "NATS_MAX_FILE_STORE": "1G",
            **{f"NATS_ROUTE_{k + 1}": f"nats://127.0.0.1:{p[1]}" for k, p in enumerate(ports)},
        }
        self.log = root / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or "nats-server"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([server, "-c", str(CONF)], env=self.env, stdout=out, stderr=out)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def healthy(self) -> bool:
        """Up, and a member of a JetStream cluster that has a metadata leader."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/jsz", timeout=1) as r:
                meta = json.loads(r.read()).get("meta_cluster", {})
            return bool(meta.get("leader")) and len(meta.get("replicas", [])) == 2
        except (OSError, ValueError):
            return False


async def _publish(js: bus.JetStreamContext, i: int) -> None:
    """One event, retried until a majority acknowledges it (a leader election takes a moment);
    the message id makes a retry of an event that did land a duplicate JetStream drops."""
    deadline = time.monotonic() + 60
    while True:
        try:
            await js.publish(f"tl.ev.ws.{'a' * 32}.scalars", f"event {i}".encode(), headers={"Nats-Msg-Id": f"e{i}"},
                             stream=bus.STREAM, timeout=2)  # fmt: skip
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_the_manifests_nats_cluster_keeps_every_acknowledged_event_when_its_leader_then_another_die(
    tmp_path: Path,
) -> None:
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    nodes = [Node(i, tmp_path, ports) for i in range(3)]
    for n in nodes:
        n.start()
    try:
        deadline = time.monotonic() + 60
        while not all(n.healthy() for n in nodes):
            assert time.monotonic() < deadline, "the cluster did not form: " + nodes[0].log.read_text()[-2000:]
            await asyncio.sleep(0.3)
        nc, js = await bus.connect(",".join(f"nats://127.0.0.1:{n.client}" for n in nodes), "cluster-test")
        deadline = time.monotonic() + 60
        while True:  # healthy nodes may not have elected JetStream's meta leader yet: the request times out
            try:
                await bus.ensure_stream(js, replicas=3)
                break
            except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
                assert time.monotonic() < deadline, "no JetStream leader: " + nodes[0].log.read_text()[-2000:]
                await asyncio.sleep(0.5)
        info = await js.stream_info(bus.STREAM)
        assert info.config.num_replicas == 3 and info.cluster is not None
        assert len(info.cluster.replicas or []) == 2  # the leader and two followers

        third = EVENTS // 3
        for i in range(third):
            await _publish(js, i)
        cluster = (await js.stream_info(bus.STREAM)).cluster
        assert cluster is not None
        leader = next(n for n in nodes if n.name == cluster.leader)
        leader.kill()  # mid-ingest: the rest go to a newly elected leader
        for i in range(third, 2 * third):
            await _publish(js, i)
        now = (await js.stream_info(bus.STREAM)).cluster
        assert now is not None and now.leader not in (None, leader.name)  # a new leader took the rest
        leader.start()  # back: it catches up from the others
        deadline = time.monotonic() + 60
        while not leader.healthy():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.3)
        # Then another node (the new leader), mid-ingest too: two of three still make a majority.
        second = next(n for n in nodes if n.name == now.leader)
        second.kill()
        for i in range(2 * third, EVENTS):
            await _publish(js, i)
        second.start()
        deadline = time.monotonic() + 60
        while not second.healthy():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.3)

        info = await js.stream_info(bus.STREAM)
        assert info.state.messages == EVENTS  # none lost, none twice (a retried publish is deduplicated)
        seen: set[str] = set()
        sub = await js.subscribe(bus.SUBJECTS, ordered_consumer=True)
        while len(seen) < EVENTS:
            msg = await sub.next_msg(timeout=10)
            seen.add(msg.data.decode())
        assert seen == {f"event {i}" for i in range(EVENTS)}  # every acknowledged event, once
        suite = "NATS cluster of 3, replicas 3"
        figures.record(suite, "killed mid-publish", f"the leader ({leader.name}), then the new one ({second.name})")
        figures.record(suite, "events acknowledged / in the stream / lost", f"{EVENTS} / {info.state.messages} / 0")
        await nc.close()
    finally:
        for n in nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.terminate()
                n.proc.wait(timeout=10)
