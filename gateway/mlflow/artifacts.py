"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/…``): what ``mlflow.log_artifact``
uploads and ``download_artifacts`` reads when a run's artifact URI is ``mlflow-artifacts:/…``.

``<experiment id>/<run id>/artifacts/<path>`` is the run's artifact ``<path>``: its bytes go to
Tracklane's object storage (through the artifact service's signed links, like an SDK upload, with
the SHA-256 computed on the way) and it is registered on the run through ingestion, so it shows
in the Artifacts tab; listing reads the run's artifacts, download redirects to a signed link.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from tracklane_proto import events_pb2, metadata_pb2

from gateway import clients
from gateway.mlflow.api import MlflowError, append, applied, caller, find_run, id_of, invalid, missing, respond
from gateway.state import GatewayState, state
from gateway.usecases.command_log import require_writer
from services.common.auth import Principal
from services.common.contract import EXPERIMENT_ID

MAX_ARTIFACT = 5 * 1024**3  # the embedded store's limit for one object
PREFIX = "artifacts"


def _split(path: str) -> tuple[str, str, str]:
    """``<experiment id>/<run id>/artifacts[/<relative path>]`` as its three parts."""
    parts = path.strip("/").split("/", 3)
    if len(parts) < 3 or parts[2] != PREFIX or not EXPERIMENT_ID.match(parts[1]):
        raise invalid(f"not a run's artifact path: {path!r} (<experiment id>/<run id>/artifacts/<path>)")
    relative = parts[3] if len(parts) == 4 else ""
    if any(p in ("", ".", "..") for p in relative.split("/")) and relative:
        raise invalid(f"invalid artifact path {relative!r}")
    return parts[0], parts[1], relative


async def _run_of(st: GatewayState, who: Principal, experiment: str, run_id: str) -> metadata_pb2.Experiment:
    run = await find_run(st, who, run_id)
    if await id_of(st, who, run.project) != experiment:
        raise missing(f"Run with id={run_id} not found in experiment {experiment}")
    return run


async def upload(request: Request, path: str) -> dict[str, Any]:
    st = state(request)
    who, key = await caller(request)
    require_writer(who)
    experiment, run_id, relative = _split(path)
    if not relative:
        raise invalid("an artifact needs a file name")
    await _run_of(st, who, experiment, run_id)
    size = request.headers.get("content-length")
    if size is None or not size.isdigit():
        raise MlflowError("INVALID_PARAMETER_VALUE", "send the artifact with its Content-Length", 411)
    if int(size) > MAX_ARTIFACT:
        raise invalid(f"an artifact is at most {MAX_ARTIFACT} bytes")
    content_type = request.headers.get("content-type", "application/octet-stream")[:64]
    digest = hashlib.sha256()
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        async for chunk in request.stream():
            digest.update(chunk)
            sent += len(chunk)
            yield chunk

    await clients.store_object(st, who.workspace, run_id, f"{PREFIX}/{relative}", body(), int(size), content_type)
    if sent != int(size):
        raise MlflowError("TEMPORARILY_UNAVAILABLE", "object storage did not take the whole artifact; retry", 503)
    file = events_pb2.FileReference(key=f"{PREFIX}/{relative}", size=sent, sha256=digest.hexdigest(),
                                    content_type=content_type)  # fmt: skip
    event = events_pb2.Event(client_time=time.time(), artifact_registered=events_pb2.ArtifactRegistered(
        name=relative, file=file, kind="artifact", type="file"))  # fmt: skip
    await applied(st, await append(st, key, run_id, [event]), "metadata")
    return {}


async def listing(request: Request) -> dict[str, Any]:
    st = state(request)
    who, _ = await caller(request)
    experiment, run_id, relative = _split(request.query_params.get("path", ""))
    await _run_of(st, who, experiment, run_id)
    details = await clients.details(st, who, run_id)
    prefix = f"{relative}/" if relative else ""
    files: dict[str, dict[str, Any]] = {}
    for record in details.artifacts:
        a = record.artifact
        if a.kind != "artifact" or not a.file.key.startswith(f"{PREFIX}/{prefix}"):
            continue
        rest = a.file.key[len(PREFIX) + 1 + len(prefix) :]
        head, slash, _ = rest.partition("/")
        files[head] = (
            {"path": head, "is_dir": True} if slash else {"path": head, "is_dir": False, "file_size": a.file.size}
        )
    return {"files": sorted(files.values(), key=lambda f: f["path"])}


async def download(request: Request, path: str) -> Response:
    st = state(request)
    who, _ = await caller(request)
    experiment, run_id, relative = _split(path)
    await _run_of(st, who, experiment, run_id)
    details = await clients.details(st, who, run_id)
    if not any(
        r.artifact.kind == "artifact" and r.artifact.file.key == f"{PREFIX}/{relative}" for r in details.artifacts
    ):
        raise missing(f"No artifact {relative!r} in run {run_id}")
    (link,) = await clients.download_links(st, [(who.workspace, run_id, f"{PREFIX}/{relative}")])
    return RedirectResponse(link.url, status_code=302)


def _endpoint(kind: str) -> Any:
    async def work(request: Request) -> Response:
        if kind == "list":
            return JSONResponse(await listing(request))
        path = request.path_params["path"]
        if request.method == "PUT":
            return JSONResponse(await upload(request, path))
        return await download(request, path)

    async def run(request: Request) -> Response:
        return await respond(lambda: work(request))

    run.__name__ = f"mlflow_artifacts_{kind}"
    return run


def routes() -> list[Route]:
    out = []
    for prefix in ("/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts"):
        out.append(Route(prefix, _endpoint("list"), methods=["GET"], name="mlflow"))
        out.append(Route(f"{prefix}/{{path:path}}", _endpoint("file"), methods=["GET", "PUT"], name="mlflow"))
    return out
