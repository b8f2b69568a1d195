"""Small clients for the end-to-end tests: the gateway over HTTP, ingestion over raw gRPC."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
import httpx
from tracklane_proto import ingest_pb2, ingest_pb2_grpc

from devstack import Stack
from tests.conftest import API_KEY

T = TypeVar("T")
AUTH = (("authorization", f"Bearer {API_KEY}"),)


def gateway(stack: Stack, key: str | None = API_KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=30)


def ingest(stack: Stack) -> ingest_pb2_grpc.IngestServiceStub:
    return ingest_pb2_grpc.IngestServiceStub(grpc.insecure_channel(stack.ingestion_addr))


def open_experiment(stack: Stack, experiment_id: str, project: str = "e2e", name: str = "run") -> None:
    ingest(stack).OpenExperiment(
        ingest_pb2.OpenExperimentRequest(experiment_id=experiment_id, project=project, name=name),
        metadata=AUTH,
        timeout=10,
    )


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Polls until ``probe`` returns something truthy; fails with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last probe gave {last!r}")


def total_points(client: httpx.Client, experiment_id: str, metric: str, variant: str) -> int:
    r = client.get(f"/api/v1/experiments/{experiment_id}/scalars", params={"metric": metric, "variant": variant})
    if r.status_code == 404:
        return 0
    r.raise_for_status()
    series = r.json()["series"]
    return int(series[0]["total_points"]) if series else 0
