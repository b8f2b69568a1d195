"""Runs the whole platform on one machine: nats-server (JetStream), nx-27017 (MongoDB wire) when
no MongoDB is configured, and every service as its own process on loopback.

``python -m devstack`` is what ``make up`` runs; the end-to-end tests use
:class:`Stack` the same way, on free ports and a temporary data directory.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

BIN = Path(sys.executable).parent
SERVICES = ("metadata", "metrics", "ingestion", "artifact", "reporting")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def which(name: str) -> str:
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: run `make venv` (it installs it into .venv)")
    return found


@dataclass
class Ports:
    gateway: int = 8080
    ingestion: int = 50051
    metrics: int = 50052
    metadata: int = 50053
    artifact: int = 50054
    reporting: int = 50055
    artifact_http: int = 8081
    nats: int = 4222
    mongodb: int = 27017
    prometheus: dict[str, int] = field(
        default_factory=lambda: {
            "ingestion": 9151,
            "metrics": 9152,
            "metadata": 9153,
            "artifact": 9154,
            "reporting": 9155,
        }
    )

    @classmethod
    def from_env(cls) -> Ports:
        """The defaults, or the ports of the TRACKLANE_*_ADDR variables when they are set."""

        def port(var: str, default: int) -> int:
            value = os.environ.get(var, "").strip()
            return int(value.rpartition(":")[2]) if value else default

        d = cls()
        return cls(
            gateway=port("TRACKLANE_GATEWAY_ADDR", d.gateway),
            ingestion=port("TRACKLANE_INGESTION_ADDR", d.ingestion),
            metrics=port("TRACKLANE_METRICS_ADDR", d.metrics),
            metadata=port("TRACKLANE_METADATA_ADDR", d.metadata),
            artifact=port("TRACKLANE_ARTIFACT_ADDR", d.artifact),
            reporting=port("TRACKLANE_REPORTING_ADDR", d.reporting),
            artifact_http=port("TRACKLANE_ARTIFACT_HTTP_ADDR", d.artifact_http),
            nats=port("TRACKLANE_NATS_PORT", d.nats),
            mongodb=port("TRACKLANE_NX_PORT", d.mongodb),
            prometheus={
                name: int(os.environ.get(f"TRACKLANE_{name.upper()}_PROMETHEUS_PORT") or default)
                for name, default in d.prometheus.items()
            },
        )

    def env(self) -> dict[str, str]:
        """The variables that tell every process (and ``make up``) these ports: the inverse of
        :meth:`from_env`."""
        env = {
            "TRACKLANE_GATEWAY_ADDR": f"127.0.0.1:{self.gateway}",
            "TRACKLANE_INGESTION_ADDR": f"127.0.0.1:{self.ingestion}",
            "TRACKLANE_METRICS_ADDR": f"127.0.0.1:{self.metrics}",
            "TRACKLANE_METADATA_ADDR": f"127.0.0.1:{self.metadata}",
            "TRACKLANE_ARTIFACT_ADDR": f"127.0.0.1:{self.artifact}",
            "TRACKLANE_REPORTING_ADDR": f"127.0.0.1:{self.reporting}",
            "TRACKLANE_ARTIFACT_HTTP_ADDR": f"127.0.0.1:{self.artifact_http}",
            "TRACKLANE_NATS_PORT": str(self.nats),
            "TRACKLANE_NX_PORT": str(self.mongodb),
        }
        env.update({f"TRACKLANE_{name.upper()}_PROMETHEUS_PORT": str(port) for name, port in self.prometheus.items()})
        return env

    @classmethod
    def free(cls) -> Ports:
        """Ports no process listens on, all different (each held open until every one is picked:
        a port let go can be handed out again at once, and two services on one port answer each
        other's calls with "method not found")."""
        held: list[socket.socket] = []
        try:
            for _ in range(9 + len(SERVICES)):
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                held.append(s)
            ports = iter(s.getsockname()[1] for s in held)
            return cls(
                gateway=next(ports),
                ingestion=next(ports),
                metrics=next(ports),
                metadata=next(ports),
                artifact=next(ports),
                reporting=next(ports),
                artifact_http=next(ports),
                nats=next(ports),
                mongodb=next(ports),
                prometheus={name: next(ports) for name in SERVICES},
            )
        finally:
            for s in held:
                s.close()


class Stack:
    """Starts, watches and stops the processes of one Tracklane installation."""

    def __init__(
        self, data_dir: Path, api_key: str, ports: Ports | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.api_key = api_key
        self.ports = ports or Ports()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.extra_env = extra_env or {}
        self.external_nats = (
            os.environ.get("TRACKLANE_NATS_URL") if "TRACKLANE_NATS_URL" not in self.extra_env else None
        )
        self.external_mongo = os.environ.get("TRACKLANE_MONGODB_URL")
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)

    # -- addresses ---------------------------------------------------------------------------
    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def ingestion_addr(self) -> str:
        return f"127.0.0.1:{self.ports.ingestion}"

    @property
    def nats_url(self) -> str:
        return self.external_nats or f"nats://127.0.0.1:{self.ports.nats}"

    @property
    def mongodb_url(self) -> str:
        return self.external_mongo or f"mongodb://127.0.0.1:{self.ports.mongodb}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.ports.env())
        env.update(
            TRACKLANE_DATA_DIR=str(self.data_dir),
            TRACKLANE_NATS_URL=self.nats_url,
            TRACKLANE_MONGODB_URL=self.mongodb_url,
            TRACKLANE_API_KEY=self.api_key,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    # -- processes ---------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        # The child keeps its own descriptor of the log; ours closes right away.
        with open(self.data_dir / "logs" / f"{name}.log", "ab") as logfile:
            self.procs[name] = subprocess.Popen(
                argv,
                env=self.env(),
                stdout=logfile,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
            )

    def start_engine(self, name: str) -> None:
        if name == "nats":
            store = self.data_dir / "nats"
            store.mkdir(parents=True, exist_ok=True)
            conf = self.data_dir / "nats.conf"
            # 8 MiB messages: a scalar event may carry up to 200,000 points (5.6 MB).
            # TRACKLANE_NATS_MAX_FILE_STORE (devstack only): a small store, to see a full event log
            limit = self.env().get("TRACKLANE_NATS_MAX_FILE_STORE")
            quota = f", max_file_store: {limit}" if limit else ""
            conf.write_text(f'max_payload: 8MB\njetstream {{ store_dir: "{store}"{quota} }}\n')
            self._spawn("nats", [which("nats-server"), "-a", "127.0.0.1", "-p", str(self.ports.nats), "-c", str(conf)])
            self._wait_tcp(self.ports.nats, "nats")
        elif name == "mongodb":
            store = self.data_dir / "mongodb"
            store.mkdir(parents=True, exist_ok=True)
            self._spawn(
                "mongodb",
                [
                    which("nx-27017"),
                    "--data-dir", str(store),
                    "--host", "127.0.0.1",
                    "-p", str(self.ports.mongodb),
                    "--pid-file", str(store / "nx.pid"),
                    "--log-file", str(self.data_dir / "logs" / "nx-27017.log"),
                ],
            )  # fmt: skip
            self._wait_tcp(self.ports.mongodb, "mongodb")

    def start_service(self, name: str, wait: bool = True, timeout: float = 60.0) -> None:
        """Starts one service; with ``wait``, until it serves (the metadata service first brings its
        table index in step with MongoDB, which takes longer over many experiments)."""
        if name == "gateway":
            self._spawn("gateway", [sys.executable, "-m", "gateway"])
            if wait:
                self._wait_http(f"{self.gateway_url}/readyz", "gateway")
            return
        self._spawn(name, [sys.executable, "-m", f"services.{name}"])
        if wait:
            self._wait_grpc(getattr(self.ports, name), name, timeout)

    def start(self) -> None:
        if not self.external_nats:
            self.start_engine("nats")
        if not self.external_mongo:
            self.start_engine("mongodb")
        for name in SERVICES:
            self.start_service(name, wait=False)
        for name in SERVICES:
            self._wait_grpc(getattr(self.ports, name), name)
        self.start_service("gateway")

    def signal(self, name: str, sig: int) -> None:
        self.procs[name].send_signal(sig)

    def kill(self, name: str) -> None:
        """kill -9, as a crash would."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def stop_one(self, name: str, timeout: float = 20.0) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def stop(self) -> None:
        order = ["gateway", "ingestion", *[s for s in SERVICES if s != "ingestion"], "mongodb", "nats"]
        for name in order:
            self.stop_one(name)

    def restart_dead(self) -> list[str]:
        """Starts again every process that exited (a supervisor's job); returns their names.
        The projections then catch up from their durable JetStream consumers."""
        dead = [name for name, proc in self.procs.items() if proc.poll() is not None]
        for name in dead:
            self.procs.pop(name)
            if name in ("nats", "mongodb"):
                self.start_engine(name)
            else:
                self.start_service(name, wait=False)
        return dead

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.data_dir / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    # -- waiting -----------------------------------------------------------------------------
    def _deadline_loop(self, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            yield
            time.sleep(0.1)
        raise TimeoutError(f"{what} did not become ready in {timeout:.0f}s; see {self.data_dir / 'logs'}")

    def _wait_tcp(self, port: int, what: str) -> None:
        for _ in self._deadline_loop(what):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return

    def _wait_grpc(self, port: int, what: str, timeout: float = 60.0) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for _ in self._deadline_loop(what, timeout):
                try:
                    if (
                        stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                        == health_pb2.HealthCheckResponse.SERVING
                    ):
                        return
                except grpc.RpcError:
                    pass

    def _wait_http(self, url: str, what: str) -> None:
        for _ in self._deadline_loop(what):
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (loopback)
                    if resp.status == 200:
                        return
            except OSError:
                pass


def credentials(data_dir: Path) -> str:
    """The bootstrap admin key: TRACKLANE_API_KEY, else the one this data directory already has,
    else a new one."""
    if key := os.environ.get("TRACKLANE_API_KEY", "").strip():
        return key
    stored = data_dir / "credentials.json"
    if stored.is_file():
        key = str(json.loads(stored.read_text()).get("api_key", ""))
        if key:
            return key
    return "tl_" + secrets.token_urlsafe(32)


def write_credentials(stack: Stack, config_dir: Path) -> list[Path]:
    doc = {"server": stack.ingestion_addr, "gateway": stack.gateway_url, "api_key": stack.api_key}
    written = []
    for folder in (stack.data_dir, config_dir):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "credentials.json"
        path.write_text(json.dumps(doc, indent=2) + "\n")
        path.chmod(0o600)
        written.append(path)
    return written


def sign_in_link(stack: Stack) -> str:
    """A one-time link that signs a browser in with the stack's key (the gateway makes it)."""
    request = urllib.request.Request(  # noqa: S310 (the stack's own loopback gateway)
        f"{stack.gateway_url}/api/v1/session/links",
        method="POST",
        headers={"Authorization": f"Bearer {stack.api_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            url: str = json.loads(answer.read())["url"]
            return url
    except OSError as exc:
        return f"(none: {exc}; sign in with the key)"


def client_config_dir() -> Path:
    """Where the SDK looks for its credentials file (``tracklane._config.config_dir``; the
    launcher does not import the SDK, which patches argparse). test_make_up checks they agree."""
    return Path(os.environ.get("TRACKLANE_CONFIG_DIR") or Path.home() / ".config" / "tracklane")


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Tracklane on this machine (what `make up` does).")
    parser.add_argument("--data-dir", default=os.environ.get("TRACKLANE_DATA_DIR", ".tracklane"))
    args = parser.parse_args()
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(data_dir, credentials(data_dir), Ports.from_env())

    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Starting Tracklane (data in {data_dir}) …", flush=True)
    try:
        stack.start()
        paths = write_credentials(stack, client_config_dir())
        key = stack.api_key
        print(
            "\nTracklane is up.\n"
            f"  gateway (HTTP)    {stack.gateway_url}\n"
            f"  ingestion (gRPC)  {stack.ingestion_addr}\n"
            f"  API key           {key}\n"
            f"  sign-in link      {sign_in_link(stack)} (once, within 10 minutes)\n"
            f"  credentials       {paths[1]} (the SDK reads it)\n"
            f"  logs              {data_dir / 'logs'}\n"
            "\nTry:\n"
            f"  curl -H 'Authorization: Bearer {key}' {stack.gateway_url}/api/v1/experiments\n"
            "\nCtrl-C stops everything.",
            flush=True,
        )
        while not stopping:
            for name in stack.restart_dead():
                print(f"{name} exited; restarted it (see {data_dir / 'logs' / name}.log)", flush=True)
            time.sleep(0.5)
    except (RuntimeError, TimeoutError) as exc:
        print(f"\nTracklane could not start: {exc}", file=sys.stderr, flush=True)
    finally:
        print("\nStopping Tracklane …", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
