"""The SDK's channel to ingestion: ``host:port`` in plaintext, ``https://host[:port]`` over TLS
(an ingress in front of ingestion), verified against ``TRACKLANE_TLS_CA`` — checked against a real
gRPC server with a certificate made here by openssl."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tracklane import _channel


def test_the_server_names_where_and_how() -> None:
    assert _channel.target("127.0.0.1:50051") == ("127.0.0.1:50051", False)
    assert _channel.target("grpc://ingest:50051") == ("ingest:50051", False)
    assert _channel.target("https://ingest.example.com") == ("ingest.example.com:443", True)
    assert _channel.target("https://ingest.example.com:8443/") == ("ingest.example.com:8443", True)
    assert _channel.target("https://[::1]") == ("[::1]:443", True)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test's certificate (apt-get install openssl)")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    port = server.add_secure_port("localhost:0", credentials)
    server.start()
    yield port, cert
    server.stop(None)


def _serving(ch: grpc.Channel) -> bool:
    try:
        answer = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.RpcError:
        return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


def test_https_servers_are_reached_over_tls_and_verified(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_server
    monkeypatch.setenv("TRACKLANE_TLS_CA", str(cert))
    with _channel.channel(f"https://localhost:{port}") as ch:
        assert _serving(ch)
    with _channel.channel(f"localhost:{port}") as ch:  # plaintext to a TLS port: refused
        assert not _serving(ch)
    monkeypatch.delenv("TRACKLANE_TLS_CA")
    with _channel.channel(f"https://localhost:{port}") as ch:  # a certificate no root vouches for
        assert not _serving(ch)
