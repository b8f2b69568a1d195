"""What every route needs of a request: the JSON body, path ids and bounded text parameters,
each refused with a 400 (or 404) that names the field. Routes parse with these, then call the
application layer (``gateway.commands``, ``gateway.clients``) with plain values."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from gateway.commands import Outcome, command_id
from gateway.errors import ApiError
from gateway.respond import JSONResponse
from gateway.views import experiment_json
from services.common.contract import EXPERIMENT_ID, MAX_TAG, MAX_TAGS, ValidationError, check_name

MAX_QUERY_PARAM = 4096


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``); 400 otherwise."""
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_argument", "the body must be a JSON object", "body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_argument", "the body must be a JSON object", "body")
    return body


def checked(fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Runs a contract check; its ValidationError becomes a 400 naming the field."""
    try:
        fn(*args, **kwargs)
    except ValidationError as exc:
        raise ApiError(400, "invalid_argument", str(exc), exc.field) from None


def string_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "invalid_argument", f"{name} must be a string", name)
    return value


def tags_field(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ApiError(400, "invalid_argument", f"{name} must be a list of strings", name)
    if len(value) > MAX_TAGS:
        raise ApiError(400, "invalid_argument", f"{name}: at most {MAX_TAGS} tags per request", name)
    for i, tag in enumerate(value):
        checked(check_name, f"{name}[{i}]", tag, max_len=MAX_TAG)
    return value


def only_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """400 naming the first field of ``body`` that is not one of ``allowed``."""
    unknown = set(body) - set(allowed)
    if unknown:
        field = sorted(unknown)[0]
        raise ApiError(400, "invalid_argument", f"{field}: unknown here (use {', '.join(allowed)})", field)


def experiment_id_param(request: Request) -> str:
    """The path's experiment id; 404 when it cannot be one (never a 400: ids are opaque)."""
    value: str = request.path_params["experiment_id"]
    if not EXPERIMENT_ID.match(value):
        raise ApiError(404, "not_found", f"experiment {value} not found", "experiment_id")
    return value


def text_param(request: Request, name: str) -> str:
    """A free-text query parameter (filter, order_by …), bounded."""
    value = request.query_params.get(name, "")
    if len(value) > MAX_QUERY_PARAM:
        raise ApiError(400, "invalid_argument", f"{name}: at most {MAX_QUERY_PARAM} characters", name)
    return value


def idempotency_key(request: Request) -> str:
    """The command's id: the client's ``Idempotency-Key`` header, or a new one."""
    return command_id(request.headers.get("idempotency-key"))


def accepted(event_id: str, **extra: object) -> JSONResponse:
    """The one answer of a command whose projection lags: recorded on the log, not applied yet."""
    return JSONResponse({"status": "accepted", "event_id": event_id, **extra}, status_code=202)


def outcome_response(outcome: Outcome) -> JSONResponse:
    """An experiment command's answer: the experiment as it now is, or 202 Accepted."""
    if outcome.experiment is None:
        return accepted(outcome.event_id)
    return JSONResponse(experiment_json(outcome.experiment))
