"""Query-string parsing that answers 400 with the offending parameter's name."""

from __future__ import annotations

import math

from starlette.requests import Request

from gateway.errors import ApiError


def int_param(request: Request, name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_argument", f"{name} must be a whole number, got {raw!r}", name) from None
    if not minimum <= value <= maximum:
        raise ApiError(400, "invalid_argument", f"{name} must be between {minimum} and {maximum}", name)
    return value


def float_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, "invalid_argument", f"{name} must be a number, got {raw!r}", name) from None
    if not math.isfinite(value):
        raise ApiError(400, "invalid_argument", f"{name} must be finite", name)
    return value


def choice_param(request: Request, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = request.query_params.get(name) or default
    if value not in choices:
        raise ApiError(400, "invalid_argument", f"{name} must be one of {', '.join(choices)}", name)
    return value
