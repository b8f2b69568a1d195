"""One experiment's reported details, and the commands that change them.

Reads: ``/configuration`` (hyperparameter sections, configuration objects, user properties),
``/execution``, ``/artifacts`` and ``/models`` (with download links and previews), ``/console``
(pages, tail, search, full download), ``/plots`` (latest or one iteration) and
``/debug-samples`` (by metric/variant and iteration, with previous/next).

Commands: ``PATCH /hyperparameters``, ``PATCH /properties`` (refused once published) and
``POST /stop``, each one event on the log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from tracklane_proto import artifact_pb2, events_pb2, metadata_pb2, metrics_pb2

from gateway import clients, commands
from gateway.errors import ApiError
from gateway.http import experiment_id_param, idempotency_key, json_object, only_fields, outcome_response
from gateway.params import choice_param, int_param
from gateway.respond import JSONResponse, etag_json
from gateway.state import principal, reader, state
from services.common.auth import Principal
from services.common.contract import ValidationError
from services.common.payloads import validate_params, validate_properties

LEVELS = {1: "debug", 2: "info", 3: "warning", 4: "error", 5: "critical"}
SOURCES = {0: "log", 1: "stdout", 2: "stderr"}
MAX_CONSOLE_PAGE = 10_000
DOWNLOAD_PAGE = 5_000


async def _details(request: Request) -> tuple[str, str, metadata_pb2.ExperimentDetails]:
    """(experiment id, workspace, details); 404 unless the experiment is the caller's."""
    experiment_id = experiment_id_param(request)
    details = await clients.details(state(request), await reader(request), experiment_id)
    return experiment_id, details.workspace, details


# -- configuration and execution ------------------------------------------------------------------
async def configuration(request: Request) -> Response:
    experiment_id, _, d = await _details(request)
    return etag_json(
        request,
        {
            "experiment_id": experiment_id,
            "hyperparameters": [
                {
                    "section": s.section,
                    "params": [
                        {"name": p.name, "value": p.value, "type": p.type, "description": p.description}
                        for p in s.params
                    ],
                }
                for s in d.hyperparameters
            ],
            "configurations": [
                {"name": c.name, "content_type": c.content_type, "description": c.description, "text": c.text}
                for c in d.configurations
            ],
            "properties": dict(sorted(d.properties.items())),
        },
    )


async def execution(request: Request) -> Response:
    experiment_id, _, d = await _details(request)
    ex = d.execution
    return etag_json(
        request,
        {
            "experiment_id": experiment_id,
            "repository": ex.repository,
            "branch": ex.branch,
            "commit": ex.commit,
            "diff": ex.diff,
            "entry_point": ex.entry_point,
            "working_dir": ex.working_dir,
            "argv": ex.argv,
            "python": ex.python,
            "packages": ex.packages.splitlines(),
            "environment": dict(sorted(ex.environment.items())),
            "runtime": dict(sorted(ex.runtime.items())),
        },
    )


async def _links(
    request: Request, workspace: str, experiment_id: str, keys: list[str]
) -> list[artifact_pb2.PresignedUrl]:
    """Download links for objects of one experiment."""
    return await clients.download_links(state(request), [(workspace, experiment_id, k) for k in keys])


# -- artifacts and models -------------------------------------------------------------------------
async def _files(request: Request, kind: str) -> Response:
    experiment_id, workspace, d = await _details(request)
    records = [r for r in d.artifacts if r.artifact.kind == kind]
    links = await _links(request, workspace, experiment_id, [r.artifact.file.key for r in records])
    out = []
    for record, link in zip(records, links, strict=True):
        a = record.artifact
        item: dict[str, Any] = {
            "name": a.name,
            "type": a.type,
            "key": a.file.key,
            "size": a.file.size,
            "sha256": a.file.sha256,
            "content_type": a.file.content_type,
            "metadata": dict(sorted(a.metadata.items())),
            "registered_at": record.registered_at,
            "url": link.url,
            "url_expires_at": link.expires_at,
            "preview": a.preview,
            "preview_url": f"/api/v1/experiments/{experiment_id}/{kind}s/{a.name}/preview",
        }
        if kind == "model":
            item.update(framework=a.framework, input=a.input, direction="input" if a.input else "output")
        out.append(item)
    return etag_json(request, {"experiment_id": experiment_id, f"{kind}s": out})


async def artifacts(request: Request) -> Response:
    return await _files(request, "artifact")


async def models(request: Request) -> Response:
    return await _files(request, "model")


async def preview(request: Request) -> Response:
    """The first 64 KiB of a text-like artifact (csv, json, yaml, md, txt, py, log)."""
    experiment_id, workspace, d = await _details(request)
    kind = "model" if request.url.path.split("/")[-3] == "models" else "artifact"
    name = request.path_params["name"]
    found = next((r.artifact for r in d.artifacts if r.artifact.kind == kind and r.artifact.name == name), None)
    if found is None:
        raise ApiError(404, "not_found", f"no {kind} named {name!r} in experiment {experiment_id}", "name")
    max_bytes = int_param(request, "max_bytes", 64 * 1024, minimum=1, maximum=1024 * 1024)
    p = await state(request).artifacts.Preview(
        artifact_pb2.PreviewRequest(
            workspace=workspace, experiment_id=experiment_id, key=found.file.key, max_bytes=max_bytes
        ),
        timeout=10,
    )
    if not p.previewable:
        raise ApiError(415, "not_previewable", f"{found.file.key} is not a text type; download it instead", "name")
    return etag_json(request, {"name": name, "key": found.file.key, "text": p.text, "truncated": p.truncated})


# -- console --------------------------------------------------------------------------------------
def _line(ln: metrics_pb2.ConsoleLine) -> dict[str, Any]:
    return {
        "cursor": ln.cursor,
        "ts": ln.ts,
        "level": LEVELS.get(ln.level, str(ln.level)),
        "source": SOURCES.get(ln.source, str(ln.source)),
        "text": ln.text,
    }


async def console(request: Request) -> Response:
    """``?after=<cursor>&limit=`` pages forward; ``?tail=N`` is the last N lines; ``search``
    keeps lines containing a text; ``?format=text`` downloads the whole log as a file."""
    experiment_id = experiment_id_param(request)
    experiment = await clients.experiment(state(request), await reader(request), experiment_id)
    search = request.query_params.get("search", "")
    if len(search) > 1000:
        raise ApiError(400, "invalid_argument", "search: at most 1000 characters", "search")
    fmt = choice_param(request, "format", "json", ("json", "text"))
    metrics = state(request).metrics
    if fmt == "text":
        return StreamingResponse(
            _console_text(metrics, experiment.workspace, experiment_id, search),
            media_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{experiment_id}-console.log"'},
        )
    tail = int_param(request, "tail", 0, minimum=0, maximum=MAX_CONSOLE_PAGE)
    limit = int_param(request, "limit", 1000, minimum=1, maximum=MAX_CONSOLE_PAGE)
    after = int_param(request, "after", 0, minimum=0, maximum=2**63 - 1)
    page = await metrics.ReadConsole(
        metrics_pb2.ConsoleRequest(
            workspace=experiment.workspace,
            experiment_id=experiment_id,
            after=after,
            limit=tail or limit,
            tail=bool(tail),
            search=search,
        ),
        timeout=30,
    )
    lines = [_line(ln) for ln in page.lines]
    return etag_json(
        request,
        {
            "experiment_id": experiment_id,
            "lines": lines,
            "total": page.total,
            "more": page.more,
            "next_after": lines[-1]["cursor"] if lines else after,
        },
    )


async def _console_text(metrics: Any, workspace: str, experiment_id: str, search: str) -> AsyncIterator[bytes]:
    after = 0
    while True:
        page = await metrics.ReadConsole(
            metrics_pb2.ConsoleRequest(
                workspace=workspace, experiment_id=experiment_id, after=after, limit=DOWNLOAD_PAGE, search=search
            ),
            timeout=30,
        )
        if page.lines:
            yield "".join(ln.text + "\n" for ln in page.lines).encode()
            after = page.lines[-1].cursor
        if not page.more:
            return


# -- plots and debug samples ----------------------------------------------------------------------
def _iteration(request: Request) -> int | None:
    raw = request.query_params.get("iteration")
    if raw is None or raw == "":
        return None
    return int_param(request, "iteration", 0, minimum=0, maximum=2**63 - 1)


Q = TypeVar("Q", metrics_pb2.PlotsRequest, metrics_pb2.DebugSamplesRequest)


async def _by_iteration(request: Request, query: Q) -> tuple[str, metadata_pb2.Experiment, Q]:
    """Fills a plots or samples query from ``metric``, ``variant`` and ``iteration``."""
    experiment_id = experiment_id_param(request)
    experiment = await clients.experiment(state(request), await reader(request), experiment_id)
    query.workspace = experiment.workspace
    query.experiment_id = experiment_id
    query.metric = request.query_params.get("metric", "")
    query.variant = request.query_params.get("variant", "")
    if (iteration := _iteration(request)) is not None:
        query.iteration = iteration
    return experiment_id, experiment, query


async def plots(request: Request) -> Response:
    """The latest plot of each metric/variant, or those at ``?iteration=``."""
    experiment_id, _, query = await _by_iteration(request, metrics_pb2.PlotsRequest())
    resp = await state(request).metrics.GetPlots(query, timeout=30)
    return etag_json(
        request,
        {
            "experiment_id": experiment_id,
            "plots": [
                {
                    "metric": p.metric,
                    "variant": p.variant,
                    "iteration": p.iteration,
                    "kind": p.kind,
                    "figure": json.loads(p.figure_json),
                    "ts": p.ts,
                    "iterations": p.iterations,
                }
                for p in resp.plots
            ],
        },
    )


async def debug_samples(request: Request) -> Response:
    """Per metric/variant, the sample at ``?iteration=`` (else the latest) with a download link
    and the previous/next stored iterations."""
    experiment_id, experiment, query = await _by_iteration(request, metrics_pb2.DebugSamplesRequest())
    resp = await state(request).metrics.GetDebugSamples(query, timeout=30)
    links = await _links(request, experiment.workspace, experiment_id, [s.key for s in resp.samples])
    out = []
    for s, link in zip(resp.samples, links, strict=True):
        out.append(
            {
                "metric": s.metric,
                "variant": s.variant,
                "iteration": s.iteration,
                "kind": s.kind,
                "key": s.key,
                "size": s.size,
                "sha256": s.sha256,
                "content_type": s.content_type,
                "ts": s.ts,
                "url": link.url,
                "previous_iteration": s.previous_iteration if s.HasField("previous_iteration") else None,
                "next_iteration": s.next_iteration if s.HasField("next_iteration") else None,
                "iterations": s.iterations,
            }
        )
    return etag_json(request, {"experiment_id": experiment_id, "samples": out})


# -- commands -------------------------------------------------------------------------------------
def _string_map(body: dict[str, Any], name: str) -> dict[str, str]:
    value = body.get(name, {})
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_argument", f"{name} must be an object", name)
    out = {}
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise ApiError(400, "invalid_argument", f"{name}.{k}: values are strings or numbers", f"{name}.{k}")
        out[k] = v if isinstance(v, str) else json.dumps(v)
    return out


def _string_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "invalid_argument", f"{name} must be a list of strings", name)
    return value


def _valid(check: Any, where: str, payload: Any) -> None:
    try:
        check(where, payload)
    except ValidationError as exc:
        raise ApiError(400, "invalid_argument", str(exc), exc.field) from None


async def edit_hyperparameters(request: Request) -> JSONResponse:
    """PATCH ``{"section": "General", "set": {"lr": "0.01"}, "remove": ["momentum"]}``."""
    body = await json_object(request)
    only_fields(body, ("section", "set", "remove"))
    section = body.get("section", "General")
    if not isinstance(section, str):
        raise ApiError(400, "invalid_argument", "section must be a string", "section")
    values, remove = _string_map(body, "set"), _string_list(body, "remove")
    if not values and not remove:
        raise ApiError(400, "invalid_argument", "nothing to change: send set and/or remove", "body")
    ps = events_pb2.ParamsSet(
        section=section,
        params=[events_pb2.Param(name=k, value=v, type="str") for k, v in values.items()],
        remove=remove,
    )
    _valid(validate_params, "body", ps)
    return await _command(request, "params", lambda who, _: {"params_set": _signed(ps, who)}, commands.read_only)


async def edit_properties(request: Request) -> JSONResponse:
    """PATCH ``{"set": {"team": "cv"}, "remove": ["old"]}``."""
    body = await json_object(request)
    only_fields(body, ("set", "remove"))
    values, remove = _string_map(body, "set"), _string_list(body, "remove")
    if not values and not remove:
        raise ApiError(400, "invalid_argument", "nothing to change: send set and/or remove", "body")
    pr = events_pb2.PropertiesSet(set=values, remove=remove)
    _valid(validate_properties, "body", pr)
    return await _command(request, "props", lambda who, _: {"properties_set": _signed(pr, who)}, commands.read_only)


async def stop(request: Request) -> JSONResponse:
    """Asks the running script to stop: it raises ``tracklane.InterruptedExperiment``, flushes
    and ends ``stopped``. Body (optional): ``{"reason": "..."}``."""
    body = await json_object(request)
    reason = body.get("reason", "stopped from the web")
    if not isinstance(reason, str) or len(reason) > 1000:
        raise ApiError(400, "invalid_argument", "reason must be a string of at most 1000 characters", "reason")
    return await _command(
        request,
        "stop",
        lambda who, _: {"stop_requested": events_pb2.StopRequested(by_key=who.key_id, reason=reason)},
        commands.running_only,
    )


async def _command(
    request: Request, kind: str, payload: commands.Payload, precondition: commands.Precondition
) -> JSONResponse:
    who = await principal(request)
    outcome = await commands.run_command(
        state(request), who, experiment_id_param(request), kind, payload, precondition, idempotency_key(request)
    )
    return outcome_response(outcome)


Signed = TypeVar("Signed", events_pb2.ParamsSet, events_pb2.PropertiesSet)


def _signed(event: Signed, who: Principal) -> Signed:
    event.by_key = who.key_id
    return event


_EXP = "/api/v1/experiments/{experiment_id}"
routes = [
    Route(f"{_EXP}/configuration", configuration),
    Route(f"{_EXP}/execution", execution),
    Route(f"{_EXP}/artifacts", artifacts),
    Route(f"{_EXP}/artifacts/{{name}}/preview", preview),
    Route(f"{_EXP}/models", models),
    Route(f"{_EXP}/models/{{name}}/preview", preview),
    Route(f"{_EXP}/console", console),
    Route(f"{_EXP}/plots", plots),
    Route(f"{_EXP}/debug-samples", debug_samples),
    Route(f"{_EXP}/hyperparameters", edit_hyperparameters, methods=["PATCH"]),
    Route(f"{_EXP}/properties", edit_properties, methods=["PATCH"]),
    Route(f"{_EXP}/stop", stop, methods=["POST"]),
]
