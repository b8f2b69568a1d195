"""One experiment's reported details — configuration, execution, artifacts and models, console,
plots, debug samples — and the commands that change them (hyperparameters, properties, stop).
HTTP only: each handler calls a use case."""

from __future__ import annotations

from typing import Any

from starlette.responses import StreamingResponse

from gateway import schemas as s
from gateway.answers import COMMAND, cid, outcome
from gateway.api import Call, Media, Routes
from gateway.usecases import detail_queries as details
from gateway.usecases import experiment_commands as commands

routes = Routes("details")
EXP = "/api/v1/experiments/{experiment_id:expid}"
READ = {"auth": "optional", "etag": True}


@routes.get(
    f"{EXP}/configuration",
    "Hyperparameter sections, configuration objects, user properties",
    ok=s.Configuration,
    **READ,
)
async def configuration(call: Call[s.Empty, None]) -> s.Configuration:
    return await details.configuration(call.st, call.who, call.path["experiment_id"])


@routes.get(
    f"{EXP}/execution", "Repository, branch, commit and diff; entry point; packages; runtime", ok=s.Execution, **READ
)
async def execution(call: Call[s.Empty, None]) -> s.Execution:
    return await details.execution(call.st, call.who, call.path["experiment_id"])


@routes.get(
    f"{EXP}/artifacts", "Artifacts: audit records, short previews, download links (1 h)", ok=s.Artifacts, **READ
)
async def artifacts(call: Call[s.Empty, None]) -> s.Artifacts:
    experiment_id = call.path["experiment_id"]
    return s.Artifacts(
        experiment_id=experiment_id, artifacts=await details.files(call.st, call.who, experiment_id, "artifact")
    )


@routes.get(f"{EXP}/models", "Input and output models with download links", ok=s.Models, **READ)
async def models(call: Call[s.Empty, None]) -> s.Models:
    experiment_id = call.path["experiment_id"]
    return s.Models(experiment_id=experiment_id, models=await details.files(call.st, call.who, experiment_id, "model"))


def _preview(kind: details.FileKind, what: str) -> None:
    async def preview(call: Call[s.PreviewQuery, None]) -> s.Preview:
        path = call.path
        return await details.preview(call.st, call.who, path["experiment_id"], kind, path["name"], call.query.max_bytes)

    preview.__name__ = f"{kind}_preview"
    routes.get(f"{EXP}/{kind}s/{{name}}/preview", f"The first bytes of a text-like {what}", query=s.PreviewQuery,
               ok=s.Preview, **READ)(preview)  # fmt: skip


_preview("artifact", "artifact")
_preview("model", "model file")


@routes.get(
    f"{EXP}/console",
    "Console lines: pages after a cursor, the tail, a search, or the whole log as a file",
    query=s.ConsoleQuery,
    ok=[s.Console, Media("text/plain; charset=utf-8", "format=text: the log as a file")],
    **READ,
)
async def console(call: Call[s.ConsoleQuery, None]) -> Any:
    experiment_id = call.path["experiment_id"]
    if call.query.format == "text":
        body = await details.console_text(call.st, call.who, experiment_id, call.query.search)
        return StreamingResponse(
            body,
            media_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{experiment_id}-console.log"'},
        )
    return await details.console(call.st, call.who, experiment_id, call.query)


@routes.get(
    f"{EXP}/plots",
    "The latest plot of each metric/variant, those at one iteration, or each one's history",
    query=s.PlotsQuery,
    ok=s.Plots,
    **READ,
)
async def plots(call: Call[s.PlotsQuery, None]) -> s.Plots:
    return await details.plots(call.st, call.who, call.path["experiment_id"], call.query)


@routes.get(
    f"{EXP}/debug-samples",
    "Debug samples per metric/variant at an iteration, with previous/next",
    query=s.ByIterationQuery,
    ok=s.Samples,
    **READ,
)
async def debug_samples(call: Call[s.ByIterationQuery, None]) -> s.Samples:
    return await details.samples(call.st, call.who, call.path["experiment_id"], call.query)


@routes.patch(
    f"{EXP}/hyperparameters",
    "Edit one section's hyperparameters (refused once published)",
    body=s.HyperparameterEdit,
    **COMMAND,
)
async def edit_hyperparameters(call: Call[s.Empty, s.HyperparameterEdit]) -> Any:
    return outcome(
        await commands.edit_hyperparameters(call.st, call.who, call.path["experiment_id"], call.body, cid(call))
    )


@routes.patch(f"{EXP}/properties", "Edit user properties (refused once published)", body=s.PropertyEdit, **COMMAND)
async def edit_properties(call: Call[s.Empty, s.PropertyEdit]) -> Any:
    return outcome(await commands.edit_properties(call.st, call.who, call.path["experiment_id"], call.body, cid(call)))


@routes.post(
    f"{EXP}/stop",
    "Stop a running experiment: the script raises InterruptedExperiment",
    body=s.StopRequest,
    body_required=False,
    **COMMAND,
)
async def stop(call: Call[s.Empty, s.StopRequest]) -> Any:
    return outcome(await commands.stop(call.st, call.who, call.path["experiment_id"], call.body.reason, cid(call)))
