"""How command outcomes are answered over HTTP, shared by the route modules."""

from __future__ import annotations

from typing import Any

from gateway import schemas as s
from gateway import views
from gateway.api import Call, Reply
from gateway.usecases.command_log import command_id
from gateway.usecases.experiment_commands import Outcome

# The answers of an experiment command: the experiment as it now is, or 202 Accepted.
COMMAND: dict[str, Any] = {"ok": s.Experiment, "also": {202: s.Accepted}}


def outcome(result: Outcome) -> Any:
    """The experiment as the command left it, or 202 Accepted when the projection lags."""
    if result.experiment is None:
        return Reply(202, s.Accepted(status="accepted", event_id=result.event_id))
    return views.experiment(result.experiment)


def cid(call: Call[Any, Any]) -> str:
    """The command's id: the client's ``Idempotency-Key``, or a new one."""
    return command_id(call.idempotency_key)
