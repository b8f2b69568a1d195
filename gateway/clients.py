"""Typed reads of the services, shared by every surface (REST routes, the widget, the export,
and next the web UI, reports and MLflow): one small function per downstream call, taking the
caller's identity and plain values, never a Starlette request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from tracklane_proto import artifact_pb2, metadata_pb2, metrics_pb2

from gateway.errors import ApiError
from gateway.state import GatewayState
from services.common.auth import Principal
from services.common.contract import EXPERIMENT_ID

# The API's x-axis names -> the metrics service's.
XAXIS = {"iter": metrics_pb2.X_AXIS_ITER, "relative": metrics_pb2.X_AXIS_RELATIVE, "wall": metrics_pb2.X_AXIS_WALL}


def experiment_request(who: Principal, experiment_id: str) -> metadata_pb2.GetExperimentRequest:
    """A read of one experiment as ``who`` may see it: its own workspace's, or a public one."""
    return metadata_pb2.GetExperimentRequest(
        workspace=who.workspace, experiment_id=experiment_id, public_only=who.anonymous
    )


async def experiment(st: GatewayState, who: Principal, experiment_id: str) -> metadata_pb2.Experiment:
    """One experiment as ``who`` may see it; NOT_FOUND (404) otherwise."""
    found: metadata_pb2.Experiment = await st.metadata.GetExperiment(experiment_request(who, experiment_id), timeout=10)
    return found


async def details(st: GatewayState, who: Principal, experiment_id: str) -> metadata_pb2.ExperimentDetails:
    """An experiment's reported details (parameters, configuration, execution, files)."""
    found: metadata_pb2.ExperimentDetails = await st.metadata.GetDetails(
        experiment_request(who, experiment_id), timeout=10
    )
    return found


async def download_links(st: GatewayState, objects: list[tuple[str, str, str]]) -> list[artifact_pb2.PresignedUrl]:
    """Download links for (workspace, experiment id, key) objects, asked for concurrently."""
    return list(
        await asyncio.gather(
            *(
                st.artifacts.PresignDownload(
                    artifact_pb2.PresignDownloadRequest(workspace=ws, experiment_id=exp, key=key), timeout=10
                )
                for ws, exp, key in objects
            )
        )
    )


async def store_object(
    st: GatewayState, workspace: str, experiment_id: str, key: str, content: bytes | AsyncIterator[bytes],
    size: int, content_type: str,
) -> None:  # fmt: skip
    """Puts an object (bytes, or a stream of ``size`` bytes) into object storage through the
    artifact service's signed link, as an SDK upload does; 503 when storage refuses it."""
    target = await st.artifacts.PresignUpload(
        artifact_pb2.PresignUploadRequest(workspace=workspace, experiment_id=experiment_id, key=key, size=size,
                                          content_type=content_type),
        timeout=10,
    )  # fmt: skip
    headers = {"Content-Length": str(size), "Content-Type": content_type}
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, read=600.0)) as client:
        put = await client.put(target.url, content=content, headers=headers)
    if put.status_code >= 300:
        raise ApiError(503, "unavailable", f"object storage refused the upload ({put.status_code}); try again", None)


def is_experiment_id(value: str) -> bool:
    return bool(EXPERIMENT_ID.match(value))
