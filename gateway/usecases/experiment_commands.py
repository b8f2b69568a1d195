"""Experiment commands: rename and describe, tags, move, publish, archive, delete, restore,
clear, stop, hyperparameter and property edits, and one command for a selection (bulk). Each is
one event on the log; the outcome is the experiment as it now is, or accepted (see
``command_log``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from tracklane_proto import events_pb2, metadata_pb2

from gateway import clients
from gateway import schemas as s
from gateway.errors import ApiError
from gateway.state import GatewayState
from gateway.usecases.command_log import publish, require_writer, wait_applied
from services.common.auth import Principal
from services.common.contract import (
    MAX_EXPERIMENT_DESCRIPTION,
    MAX_TAG,
    MAX_TAGS,
    STATUS_NAMES,
    ValidationError,
    check_name,
    check_project,
)
from services.common.payloads import validate_params, validate_properties

Precondition = Callable[[metadata_pb2.Experiment], str | None]
# The event's payload (e.g. ``{"params_set": …}``), made once the caller and the experiment are known.
Payload = Callable[[Principal, metadata_pb2.Experiment], dict[str, Any]]


def read_only(e: metadata_pb2.Experiment) -> str | None:
    return "the experiment is published (read-only)" if e.published else None


def archived_only(e: metadata_pb2.Experiment) -> str | None:
    return None if e.archived else "only archived experiments can be deleted: archive it first"


def running_only(e: metadata_pb2.Experiment) -> str | None:
    status = STATUS_NAMES.get(e.status, "unspecified")
    return None if status == "running" else f"the experiment is {status}; only running experiments can be stopped"


@dataclass(frozen=True)
class Outcome:
    """What a command did: its event, and the experiment as it now is once applied (``None``
    when the projection lagged past the wait: the answer is then 202 Accepted)."""

    event_id: str
    experiment: metadata_pb2.Experiment | None


async def run_command(
    st: GatewayState,
    who: Principal,
    experiment_id: str,
    kind: str,
    payload: Payload,
    precondition: Precondition | None = None,
    cid: str | None = None,
) -> Outcome:
    """Checks the caller and the experiment (404 unless it is the caller's; 409 when
    ``precondition`` names a conflict), publishes the command's event (id
    ``<experiment>.<kind>.<command id>``) and returns the experiment as it now is."""
    require_writer(who)
    current = await clients.experiment(st, who, experiment_id)
    if precondition is not None and (conflict := precondition(current)):
        raise ApiError(409, "conflict", conflict)
    event_id = f"{experiment_id}.{kind}.{cid or uuid.uuid4().hex}"
    done = await publish(st.js, who.workspace, experiment_id, event_id, **payload(who, current))
    if not await wait_applied(st.js, done.stream_seq):
        return Outcome(done.event_id, None)
    return Outcome(done.event_id, await clients.experiment(st, who, experiment_id))


EditFor = Callable[[metadata_pb2.Experiment], events_pb2.ExperimentEdited]


async def apply_edit(
    st: GatewayState,
    who: Principal,
    experiment_id: str,
    edit: events_pb2.ExperimentEdited | EditFor,
    precondition: Precondition | None = None,
    cid: str | None = None,
) -> Outcome:
    """A person's edit of an experiment (or the one ``edit`` makes from its current state),
    signed with the caller's key."""
    return await run_command(st, who, experiment_id, "edit", edit_payload(edit), precondition, cid)


def edit_payload(edit: events_pb2.ExperimentEdited | EditFor) -> Payload:
    """The payload of an edit (or of the one ``edit`` makes from the current state), signed."""

    def payload(caller: Principal, current: metadata_pb2.Experiment) -> dict[str, Any]:
        event = events_pb2.ExperimentEdited()
        event.CopyFrom(edit(current) if callable(edit) else edit)  # plans are shared: sign a copy
        event.by_key = caller.key_id
        return {"experiment_edited": event}

    return payload


def stop_payload(reason: str) -> Payload:
    def payload(caller: Principal, _: metadata_pb2.Experiment) -> dict[str, Any]:
        return {"stop_requested": events_pb2.StopRequested(by_key=caller.key_id, reason=reason)}

    return payload


async def rename(st: GatewayState, who: Principal, experiment_id: str, body: s.ExperimentEdit, cid: str) -> Outcome:
    """Name and/or description; refused once published."""
    edit = events_pb2.ExperimentEdited()
    if isinstance(body.name, str):
        _valid(check_name, "name", body.name)
        edit.name = body.name
    if isinstance(body.description, str):
        _valid(check_name, "description", body.description, max_len=MAX_EXPERIMENT_DESCRIPTION, required=False)
        edit.description = body.description
    if not edit.HasField("name") and not edit.HasField("description"):
        raise ApiError(400, "invalid_argument", "nothing to change: send name and/or description", "body")
    return await apply_edit(st, who, experiment_id, edit, read_only, cid)


def tag_edit(add: list[str], remove: list[str]) -> events_pb2.ExperimentEdited:
    """A tag in both lists ends removed."""
    if not add and not remove:
        raise ApiError(400, "invalid_argument", "nothing to change: send add and/or remove", "body")
    for name, tags in (("add", add), ("remove", remove)):
        if len(tags) > MAX_TAGS:
            raise ApiError(400, "invalid_argument", f"{name}: at most {MAX_TAGS} tags", name)
        for i, tag in enumerate(tags):
            _valid(check_name, f"{name}[{i}]", tag, max_len=MAX_TAG)
    return events_pb2.ExperimentEdited(add_tags=[t for t in add if t not in remove], remove_tags=remove)


async def edit_tags(st: GatewayState, who: Principal, experiment_id: str, body: s.TagEdit, cid: str) -> Outcome:
    return await apply_edit(st, who, experiment_id, tag_edit(body.add, body.remove), None, cid)


def restoring(e: metadata_pb2.Experiment) -> events_pb2.ExperimentEdited:
    """From the deleted ones back to the archive; from the archive back to the active ones."""
    return events_pb2.ExperimentEdited(deleted=False) if e.deleted else events_pb2.ExperimentEdited(archived=False)


async def lifecycle(st: GatewayState, who: Principal, experiment_id: str, action: str, cid: str) -> Outcome:
    """archive, restore, publish (locks name, description, parameters and properties for good)
    or delete (soft, archived experiments only)."""
    plan = LIFECYCLE[action]
    return await run_command(st, who, experiment_id, "edit", plan.payload, plan.precondition, cid)


async def move(st: GatewayState, who: Principal, experiment_id: str, project: str, cid: str) -> Outcome:
    """To another project, created on the fly."""
    _valid(check_project, project)
    return await apply_edit(st, who, experiment_id, events_pb2.ExperimentEdited(project=project), None, cid)


async def clear(st: GatewayState, who: Principal, experiment_id: str) -> tuple[str, bool]:
    """Permanent removal of a deleted experiment: its metadata, metrics and objects. (event id,
    applied: the metadata, metrics and artifact projections all did)."""
    require_writer(who)
    current = await clients.experiment(st, who, experiment_id)
    if not current.deleted:
        raise ApiError(409, "conflict", "only deleted experiments can be cleared: delete it first")
    done = await publish(
        st.js, who.workspace, experiment_id, f"{experiment_id}.cleared",
        experiment_cleared=events_pb2.ExperimentCleared(by_key=who.key_id),
    )  # fmt: skip
    return done.event_id, await wait_applied(st.js, done.stream_seq, ("metadata", "metrics", "artifact"))


async def stop(st: GatewayState, who: Principal, experiment_id: str, reason: str, cid: str) -> Outcome:
    """Asks the running script to stop: it raises ``tracklane.InterruptedExperiment``, flushes
    and ends ``stopped`` with ``reason``."""
    return await run_command(st, who, experiment_id, "stop", stop_payload(reason), running_only, cid)


def _valid(check: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """A contract rule, checked here too (every surface calls these use cases, not only the
    routes that parse and check requests): its ValidationError is a 400 naming the field."""
    try:
        check(*args, **kwargs)
    except ValidationError as exc:
        raise ApiError(400, "invalid_argument", str(exc), exc.field) from None


def _text(value: str | int | float) -> str:
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


async def edit_hyperparameters(
    st: GatewayState, who: Principal, experiment_id: str, body: s.HyperparameterEdit, cid: str
) -> Outcome:
    """Set and/or remove hyperparameters of one section; refused once published."""
    if not body.set and not body.remove:
        raise ApiError(400, "invalid_argument", "nothing to change: send set and/or remove", "body")
    ps = events_pb2.ParamsSet(
        section=body.section,
        params=[events_pb2.Param(name=k, value=_text(v), type="str") for k, v in body.set.items()],
        remove=body.remove,
        by_key=who.key_id,
    )
    _valid(validate_params, "body", ps)
    return await run_command(st, who, experiment_id, "params", lambda *_: {"params_set": ps}, read_only, cid)


async def edit_properties(
    st: GatewayState, who: Principal, experiment_id: str, body: s.PropertyEdit, cid: str
) -> Outcome:
    """Set and/or remove user properties; refused once published."""
    if not body.set and not body.remove:
        raise ApiError(400, "invalid_argument", "nothing to change: send set and/or remove", "body")
    pr = events_pb2.PropertiesSet(set={k: _text(v) for k, v in body.set.items()}, remove=body.remove, by_key=who.key_id)
    _valid(validate_properties, "body", pr)
    return await run_command(st, who, experiment_id, "props", lambda *_: {"properties_set": pr}, read_only, cid)


# -- lifecycle and bulk -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What one command does to one experiment: its event id suffix (in bulk), its payload, and
    when it is refused."""

    suffix: str
    payload: Payload
    precondition: Precondition | None = None


LIFECYCLE = {
    "archive": Plan("archive", edit_payload(events_pb2.ExperimentEdited(archived=True))),
    "restore": Plan("restore", edit_payload(restoring)),
    "publish": Plan("publish", edit_payload(events_pb2.ExperimentEdited(published=True))),
    "delete": Plan("delete", edit_payload(events_pb2.ExperimentEdited(deleted=True)), archived_only),
}


def bulk_plan(body: s.BulkCommand) -> Plan:
    if isinstance(body, s.BulkTags):
        return Plan("tags", edit_payload(tag_edit(body.add, body.remove)))
    if isinstance(body, s.BulkMove):
        _valid(check_project, body.project)
        return Plan("move", edit_payload(events_pb2.ExperimentEdited(project=body.project)))
    if isinstance(body, s.BulkStop):
        return Plan("stop", stop_payload(body.reason), running_only)
    action = {s.BulkArchive: "archive", s.BulkRestore: "restore", s.BulkDelete: "delete", s.BulkPublish: "publish"}
    return LIFECYCLE[action[type(body)]]


async def bulk(st: GatewayState, who: Principal, body: s.BulkCommand, cid: str) -> s.BulkOutcome:
    """One command for a selection: each experiment is checked and published on its own; the
    outcome says, id by id, what happened, after one wait for the projection to apply them all."""
    require_writer(who)
    plan = bulk_plan(body)
    action = plan.suffix
    results: list[s.BulkResult] = []
    last_seq = 0
    for experiment_id in dict.fromkeys(body.ids):  # each once, in the order given
        try:
            current = (
                await clients.experiment(st, who, experiment_id) if clients.is_experiment_id(experiment_id) else None
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            current = None
        if current is None:
            results.append(s.BulkResult(id=experiment_id, status=404, error="not found"))
            continue
        if plan.precondition is not None and (conflict := plan.precondition(current)):
            results.append(s.BulkResult(id=experiment_id, status=409, error=conflict))
            continue
        payload = plan.payload(who, current)
        done = await publish(st.js, who.workspace, experiment_id, f"{experiment_id}.{action}.{cid}", **payload)
        last_seq = max(last_seq, done.stream_seq)
        results.append(s.BulkResult(id=experiment_id, status=200, event_id=done.event_id))
    applied = last_seq == 0 or await wait_applied(st.js, last_seq)
    return s.BulkOutcome(action=action, applied=applied, results=results)
