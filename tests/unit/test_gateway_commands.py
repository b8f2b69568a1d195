"""The gateway's command use cases, without engines: a real gRPC server with a fake metadata
servicer answers the reads, and a recording stand-in for JetStream takes the publishes (no NATS
here: these tests are about the use case's rules; the end-to-end suite runs the real log). The
fakes are in conftest.py."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from tracklane_proto import events_pb2

from gateway import schemas as s
from gateway.errors import ApiError
from gateway.usecases import command_log
from gateway.usecases import experiment_commands as commands
from services.common.auth import Principal
from services.common.contract import SCHEMA_VERSION
from tests.unit.conftest import ADMIN, VIEWER, WS, experiment


async def test_an_edit_is_one_signed_event_and_answers_the_experiment(world: Any) -> None:
    st, fake, log = world
    exp = experiment(fake)
    edit = events_pb2.ExperimentEdited(name="renamed")
    outcome = await commands.apply_edit(st, ADMIN, exp, edit, commands.read_only, cid="retry-me-1")
    [(subject, event)] = log.published
    assert subject == f"tl.ev.{WS}.{exp}.edit"
    assert event.event_id == f"{exp}.edit.retry-me-1" and event.schema_version == SCHEMA_VERSION
    assert event.experiment_edited.name == "renamed" and event.experiment_edited.by_key == "k-admin"
    assert outcome.experiment is not None and outcome.experiment.id == exp
    await commands.apply_edit(st, ADMIN, exp, edit, commands.read_only, cid="retry-me-1")  # a retry
    assert len(log.published) == 1


async def test_preconditions_refuse_with_409_and_publish_nothing(world: Any) -> None:
    st, fake, log = world
    published = experiment(fake, published=True)
    with pytest.raises(ApiError) as refused:
        await commands.apply_edit(st, ADMIN, published, events_pb2.ExperimentEdited(name="x"), commands.read_only)
    assert refused.value.status == 409 and "read-only" in refused.value.message
    active = experiment(fake)
    with pytest.raises(ApiError) as refused:
        await commands.apply_edit(st, ADMIN, active, events_pb2.ExperimentEdited(deleted=True), commands.archived_only)
    assert refused.value.status == 409 and "archive it first" in refused.value.message
    done = experiment(fake, status=events_pb2.EXPERIMENT_STATUS_COMPLETED)
    stop: commands.Payload = lambda who, _: {"stop_requested": events_pb2.StopRequested(by_key=who.key_id)}  # noqa: E731
    with pytest.raises(ApiError) as refused:
        await commands.run_command(st, ADMIN, done, "stop", stop, commands.running_only)
    assert refused.value.status == 409 and "completed" in refused.value.message
    assert log.published == []


async def test_a_viewer_changes_nothing_and_another_workspace_sees_nothing(world: Any) -> None:
    st, fake, log = world
    exp = experiment(fake)
    with pytest.raises(ApiError) as refused:
        await commands.apply_edit(st, VIEWER, exp, events_pb2.ExperimentEdited(archived=True))
    assert refused.value.status == 403
    stranger = Principal("other", "admin", "k-other")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await commands.apply_edit(st, stranger, exp, events_pb2.ExperimentEdited(archived=True))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND  # the gateway answers 404
    assert log.published == []


async def test_a_lagging_projection_gives_an_accepted_outcome(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    st, fake, log = world
    monkeypatch.setattr(command_log, "APPLY_WAIT_S", 0.05)
    log.applies = False
    exp = experiment(fake)
    outcome = await commands.apply_edit(st, ADMIN, exp, events_pb2.ExperimentEdited(archived=True))
    assert outcome.experiment is None and outcome.event_id.startswith(f"{exp}.edit.")
    assert len(log.published) == 1  # on the log all the same


async def test_waiting_for_several_projections_needs_every_one(world: Any) -> None:
    st, _, log = world
    log.floors = {"metadata": 10, "metrics-scalars": 10, "artifact": 3}
    assert await command_log.wait_applied(st.js, 10, ("metadata", "metrics"), within_s=0.05)
    assert not await command_log.wait_applied(st.js, 10, ("metadata", "metrics", "artifact"), within_s=0.05)


def test_idempotency_keys_are_checked() -> None:
    assert command_log.command_id("abcdefgh-1") == "abcdefgh-1"
    assert len(command_log.command_id(None)) == 32
    with pytest.raises(ApiError) as bad:
        command_log.command_id("short")
    assert bad.value.field == "Idempotency-Key"


async def test_bulk_reports_each_id_and_publishes_only_what_it_may(world: Any) -> None:
    st, fake, log = world
    archived, active = experiment(fake, archived=True), experiment(fake)
    missing, not_an_id = uuid.uuid4().hex, "nope"
    body = s.BulkDelete(ids=[archived, active, missing, not_an_id, archived])
    outcome = await commands.bulk(st, ADMIN, body, "bulk-cmd-1")
    assert [(r.id, r.status) for r in outcome.results] == [
        (archived, 200), (active, 409), (missing, 404), (not_an_id, 404)
    ]  # fmt: skip
    assert outcome.applied and [e.event_id for _, e in log.published] == [f"{archived}.delete.bulk-cmd-1"]
    assert log.published[0][1].experiment_edited.deleted and log.published[0][1].experiment_edited.by_key == "k-admin"


async def test_a_tag_in_both_lists_ends_removed_and_an_empty_edit_is_refused(world: Any) -> None:
    st, fake, log = world
    exp = experiment(fake)
    await commands.edit_tags(st, ADMIN, exp, s.TagEdit(add=["a", "b"], remove=["b"]), "tags-cmd-1")
    edit = log.published[0][1].experiment_edited
    assert list(edit.add_tags) == ["a"] and list(edit.remove_tags) == ["b"]
    with pytest.raises(ApiError) as empty:
        await commands.edit_tags(st, ADMIN, exp, s.TagEdit(), "tags-cmd-2")
    assert empty.value.status == 400 and len(log.published) == 1


async def test_the_use_cases_check_the_contract_whoever_calls_them(world: Any) -> None:
    """Routes check requests against the schema; a use case called by another surface (MLflow's
    routes, reports) with values it built itself is held to the same rules."""
    st, fake, log = world
    exp = experiment(fake)
    for call, field in (
        (commands.rename(st, ADMIN, exp, s.ExperimentEdit(name="bad\nname"), "c-rename-1"), "name"),
        (commands.edit_tags(st, ADMIN, exp, s.TagEdit(add=["x" * 129]), "c-tags-1"), "add[0]"),
        (commands.move(st, ADMIN, exp, "a//b", "c-move-1"), "project"),
    ):
        with pytest.raises(ApiError) as refused:
            await call
        assert (refused.value.status, refused.value.field) == (400, field)
    assert log.published == []
