"""JSON answers with a strong ETag: a client that sends it back in ``If-None-Match`` gets
``304 Not Modified`` and no body (the UI and embeds poll the same heavy reads)."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response


def finite(value: float) -> float | str:
    """A measured value for JSON, which has no NaN or Infinity: such values (reported by a
    training job, stored as they came) are answered as "NaN", "Infinity" and "-Infinity"."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def finite_json(data: Any) -> Any:
    """Every float of ``data`` through :func:`finite`."""
    if isinstance(data, float):
        return finite(data)
    if isinstance(data, dict):
        return {k: finite_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite_json(v) for v in data]
    return data


_encode = msgspec.json.Encoder().encode


def dumps(data: Any) -> bytes:
    """``data`` as compact JSON. msgspec writes it (ten times faster than the standard library on
    an answer of many numbers) when that is exact: it writes NaN and ±Infinity as ``null``, so an
    answer with a ``null`` anywhere is written again the careful way (NaN as "NaN")."""
    try:
        body = _encode(data)
    except (TypeError, msgspec.EncodeError):
        body = b"null"  # a type msgspec does not write: the standard library says what is wrong
    if b"null" not in body:
        return body
    try:
        return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except ValueError:  # a NaN or an infinity somewhere: the rare path
        return json.dumps(finite_json(data), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def etag_json(request: Request, data: Any, status_code: int = 200) -> Response:
    body = dumps(data)
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    wanted = {t.strip() for t in request.headers.get("if-none-match", "").split(",")}
    if tag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


class JSONResponse(StarletteJSONResponse):
    """Starlette's JSONResponse, except that NaN and infinities (which training jobs report
    and Tracklane stores) are answered as strings instead of failing the request."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
