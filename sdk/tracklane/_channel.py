"""The gRPC channel to ingestion: plaintext for ``host:port`` (a stack on this machine or inside
a cluster), TLS for ``https://host[:port]`` (port 443 by default: an ingress in front of
ingestion, as in the Kubernetes manifests), trusting the system's roots or the PEM file named by
``TRACKLANE_TLS_CA`` (a private CA)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import grpc

TLS_PREFIX = "https://"


def target(server: str) -> tuple[str, bool]:
    """(``host:port`` to dial, whether over TLS)."""
    if server.startswith(TLS_PREFIX):
        host = server.removeprefix(TLS_PREFIX).rstrip("/")
        return (host if ":" in host.rsplit("]", 1)[-1] else f"{host}:443"), True
    return server.removeprefix("grpc://"), False


def channel(server: str, options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    address, tls = target(server)
    if not tls:
        return grpc.insecure_channel(address, options=list(options))
    roots = None
    if ca := os.environ.get("TRACKLANE_TLS_CA"):
        with open(ca, "rb") as f:
            roots = f.read()
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=roots), options=list(options))
