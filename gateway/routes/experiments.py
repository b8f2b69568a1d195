"""``/api/v1/experiments`` and ``/api/v1/compare``: the experiment table, one experiment, its
scalars, several side by side; and the commands on experiments (rename, tags, archive, restore,
move, publish, delete, clear, bulk). HTTP only: each handler calls a use case."""

from __future__ import annotations

from typing import Any

from gateway import schemas as s
from gateway.answers import COMMAND, cid, outcome
from gateway.api import Call, Reply, Routes
from gateway.usecases import experiment_commands as commands
from gateway.usecases import experiment_queries as queries

routes = Routes("experiments")
EXP = "/api/v1/experiments/{experiment_id:expid}"


@routes.get(
    "/api/v1/experiments",
    "The experiment table: filter, sort, columns, groups, pages",
    query=s.ExperimentQuery,
    ok=s.ExperimentPage,
    auth="optional",
    etag=True,
)
async def list_experiments(call: Call[s.ExperimentQuery, None]) -> s.ExperimentPage:
    """Experiments of the caller's workspace (or, without a key, the public ones of
    ``workspace``), newest first unless ``order_by``."""
    return await queries.list_experiments(call.st, call.who, call.query)


@routes.get(
    "/api/v1/columns",
    "What the table can show, sort and filter by in a project: attributes, metrics, hyperparameters, properties",
    query=s.ColumnQuery,
    ok=s.Columns,
    auth="optional",
    etag=True,
)
async def columns(call: Call[s.ColumnQuery, None]) -> s.Columns:
    return await queries.columns(call.st, call.who, call.query)


@routes.get(EXP, "One experiment", ok=s.Experiment, auth="optional", etag=True)
async def get_experiment(call: Call[s.Empty, None]) -> s.Experiment:
    return await queries.get_experiment(call.st, call.who, call.path["experiment_id"])


@routes.get(
    f"{EXP}/scalars",
    "Scalar series in full-fidelity buckets (min, max, mean, last)",
    query=s.ScalarQuery,
    ok=s.Scalars,
    auth="optional",
    etag=True,
)
async def scalars(call: Call[s.ScalarQuery, None]) -> s.Scalars:
    return await queries.scalars(call.st, call.who, call.path["experiment_id"], call.query)


@routes.post(
    f"{EXP}/scalars/charts",
    "Several charts' scalar series at once (a page of charts)",
    body=s.ChartsQuery,
    ok=s.Charts,
    auth="optional",
)
async def charts(call: Call[s.Empty, s.ChartsQuery]) -> s.Charts:
    """Each chart is a metric (its variants on one bucket grid, as ``/scalars?metric=``) or one
    metric/variant (its own buckets); up to 50 charts and 500 series. A read: a viewer's key, or
    none for a public project, may call it."""
    return await queries.charts(call.st, call.who, call.path["experiment_id"], call.body)


@routes.get(
    "/api/v1/compare",
    "2 to 10 experiments side by side, scalars overlaid",
    query=s.CompareQuery,
    ok=s.Comparison,
    auth="optional",
    etag=True,
)
async def compare(call: Call[s.CompareQuery, None]) -> s.Comparison:
    return await queries.compare(call.st, call.who, call.query)


@routes.patch(EXP, "Rename and/or describe (refused once published)", body=s.ExperimentEdit, **COMMAND)
async def edit_experiment(call: Call[s.Empty, s.ExperimentEdit]) -> Any:
    return outcome(await commands.rename(call.st, call.who, call.path["experiment_id"], call.body, cid(call)))


@routes.post(f"{EXP}/tags", "Add and/or remove tags (a tag in both lists ends removed)", body=s.TagEdit, **COMMAND)
async def edit_tags(call: Call[s.Empty, s.TagEdit]) -> Any:
    return outcome(await commands.edit_tags(call.st, call.who, call.path["experiment_id"], call.body, cid(call)))


def _lifecycle(action: str, summary: str) -> None:
    async def handler(call: Call[s.Empty, None]) -> Any:
        return outcome(await commands.lifecycle(call.st, call.who, call.path["experiment_id"], action, cid(call)))

    handler.__name__ = f"{action}_experiment"
    routes.post(f"{EXP}/{action}", summary, **COMMAND)(handler)


_lifecycle("archive", "Archive (hidden from the default listing)")
_lifecycle("restore", "Back from the deleted ones to the archive, or from the archive")
_lifecycle("publish", "Publish: read-only from now on")
_lifecycle("delete", "Soft delete (archived experiments only)")


@routes.post(f"{EXP}/move", "Move to another project (created on the fly)", body=s.Move, **COMMAND)
async def move(call: Call[s.Empty, s.Move]) -> Any:
    return outcome(await commands.move(call.st, call.who, call.path["experiment_id"], call.body.project, cid(call)))


@routes.post(
    f"{EXP}/clear",
    "Remove a deleted experiment for good: metadata, metrics, objects",
    ok=s.Cleared,
    also={202: s.Accepted},
)
async def clear(call: Call[s.Empty, None]) -> Any:
    experiment_id = call.path["experiment_id"]
    event_id, applied = await commands.clear(call.st, call.who, experiment_id)
    if not applied:
        return Reply(202, s.Accepted(status="accepted", event_id=event_id))
    return s.Cleared(id=experiment_id, cleared=True)


@routes.post(
    "/api/v1/experiments/bulk",
    "One command for up to 500 experiments, with a result per id",
    body=s.BulkCommand,
    ok=s.BulkOutcome,
    also={202: s.BulkOutcome},
)
async def bulk(call: Call[s.Empty, Any]) -> Any:
    done = await commands.bulk(call.st, call.who, call.body, cid(call))
    return done if done.applied else Reply(202, done)
