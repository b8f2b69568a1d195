"""Typed reads of the services, shared by every surface (REST routes, the widget, the export,
and next the web UI, reports and MLflow): one small function per downstream call, taking the
caller's identity and plain values, never a Starlette request."""

from __future__ import annotations

import asyncio

from tracklane_proto import artifact_pb2, metadata_pb2, metrics_pb2

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


def is_experiment_id(value: str) -> bool:
    return bool(EXPERIMENT_ID.match(value))
