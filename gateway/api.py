"""How an HTTP operation is declared, once: its method and path, who may call it, the types of
its query, body and answers. From that one declaration come the Starlette route (which parses
and validates the request into those types before the handler runs, and renders what the
handler returns) and the operation's part of the OpenAPI document (``gateway.openapi``), so the
document cannot drift from what the server does.

A handler receives a :class:`Call` — the caller, the gateway's state, the parsed query and
body, the path parameters — and returns a typed answer (a ``msgspec.Struct``), a
:class:`Reply` (another status), or, for streams and pages, a Starlette ``Response``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin, get_type_hints

import msgspec
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import ApiError
from gateway.respond import JSONResponse, etag_json
from gateway.schemas import NAME_PATTERN, PROJECT_PATTERN, Empty
from gateway.state import GatewayState, principal, reader, state
from services.common.auth import Principal

# required: a key; optional: a key, or none for public reads; custom: the handler resolves who
# reads (widgets: a token, a key or none); none: anyone.
Auth = Literal["required", "optional", "custom", "none"]
Q = TypeVar("Q")
B = TypeVar("B")


class ExperimentIdConvertor(Convertor[str]):
    """``{experiment_id:expid}``: only 32 hex characters match, so ``/experiments/bulk`` is never
    an experiment id and a wrong method on it answers 405, not 404."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("expid", ExperimentIdConvertor())


class ReportIdConvertor(ExperimentIdConvertor):
    """``{report_id:reportid}``: ``r`` and 24 hex characters."""

    regex = "r[0-9a-f]{24}"


register_url_convertor("reportid", ReportIdConvertor())


@dataclass(frozen=True)
class Media:
    """An answer that is not a JSON struct: a file, a stream, a page."""

    content_type: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Reply:
    """A typed answer with a status other than the operation's first one."""

    status: int
    body: msgspec.Struct
    headers: Mapping[str, str] | None = None


@dataclass
class Call(Generic[Q, B]):
    """One request, parsed: what a handler works with."""

    request: Request
    st: GatewayState
    who: Principal
    query: Q
    body: B
    path: dict[str, str]

    @property
    def idempotency_key(self) -> str | None:
        return self.request.headers.get("idempotency-key")


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with Starlette convertors, e.g. /api/v1/experiments/{experiment_id:expid}
    handler: Handler
    summary: str
    auth: Auth
    query: type[msgspec.Struct]
    body: type[msgspec.Struct] | None
    body_required: bool
    # status -> a Struct type (JSON), a Media, or None (no content)
    responses: dict[int, Any]
    body_schema: dict[str, Any] | None = None  # extra JSON Schema for the body (e.g. minProperties)
    body_media: tuple[str, ...] = ()  # a raw body of these types, read by the handler (an image)
    etag: bool = False
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_parameters: list[dict[str, Any]] = field(default_factory=list)  # parameters read by hand
    description: str = ""
    tag: str = ""
    # OpenAPI links of the first answer: name -> {"operationId", "parameters"}
    links: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def openapi_path(self) -> str:
        return re.sub(r"{(\w+):\w+}", r"{\1}", self.path)


class Routes:
    """The operations of one route module, declared with decorators."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def add(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        ok: Any,
        status: int = 200,
        auth: Auth = "required",
        query: type[msgspec.Struct] = Empty,
        body: type[msgspec.Struct] | None = None,
        body_required: bool = True,
        body_schema: dict[str, Any] | None = None,
        body_media: tuple[str, ...] = (),
        also: dict[int, Any] | None = None,
        etag: bool = False,
        path_params: dict[str, dict[str, Any]] | None = None,
        extra_parameters: list[dict[str, Any]] | None = None,
        description: str = "",
        links: dict[str, dict[str, Any]] | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    auth=auth,
                    query=query,
                    body=body,
                    body_required=body_required,
                    responses={status: ok, **(also or {})},
                    body_schema=body_schema,
                    body_media=body_media,
                    etag=etag,
                    path_params=path_params or {},
                    extra_parameters=extra_parameters or [],
                    description=description or (handler.__doc__ or "").strip(),
                    tag=self.tag,
                    links=links or {},
                )
            )
            return handler

        return register

    def get(self, path: str, summary: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", path, summary, **kw)

    def post(self, path: str, summary: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", path, summary, **kw)

    def patch(self, path: str, summary: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, summary, **kw)

    def put(self, path: str, summary: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("PUT", path, summary, **kw)

    def delete(self, path: str, summary: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, summary, **kw)


# -- parsing --------------------------------------------------------------------------------------
_PATH = re.compile(r"at `(key` in `)?\$\.?([^`]*)`")
_FIELD_NAMED = re.compile(r"(unknown|missing required) field `([^`]+)`")
_PATTERN_MEANING = {
    NAME_PATTERN: "must not be blank, nor hold control characters",
    PROJECT_PATTERN: "nested project names are 'a/b/c': no blank part, no control characters",
}
_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"Expected `str` of length <= (\d+)"), lambda m: f"at most {m[1]} characters"),
    (re.compile(r"Expected `str` of length >= 1\b"), lambda m: "must not be empty"),
    (re.compile(r"Expected `str` of length >= (\d+)"), lambda m: f"at least {m[1]} characters"),
    (re.compile(r"Expected `(array|object)` of length <= (\d+)"), lambda m: f"at most {m[2]} entries"),
    (re.compile(r"Expected `(array|object)` of length >= (\d+)"), lambda m: f"at least {m[2]} entries"),
    (re.compile(r"Expected `(int|float)` >= (\S+)"), lambda m: f"must be at least {m[2]}"),
    (re.compile(r"Expected `(int|float)` <= (\S+)"), lambda m: f"must be at most {m[2]}"),
    (re.compile(r"Expected `int`, got"), lambda m: "must be a whole number"),
    (re.compile(r"Expected `(float|int \| float)`, got"), lambda m: "must be a number"),
    (re.compile(r"Expected `bool`, got"), lambda m: "must be true or false"),
    (re.compile(r"Expected `int \| float \| str`, got"), lambda m: "values are text or numbers"),
    (
        re.compile(r"Expected `str` matching regex '(.*)'"),
        lambda m: _PATTERN_MEANING.get(m[1].replace("\\\\", "\\"), "is not of the expected form"),
    ),
    (re.compile(r"Invalid enum value '(.*)'"), lambda m: f"{m[1]!r} is not one of the choices"),
    (re.compile(r"unknown field"), lambda m: "not a field of this request"),
    (re.compile(r"missing required field"), lambda m: "is required"),
]


def _invalid(exc: msgspec.ValidationError | msgspec.DecodeError, where: str) -> ApiError:
    """msgspec's message (``Expected `int` >= 1 - at `$.samples```) as our 400: the field's
    path (``add[1]``, ``set``) and what is wrong with it, in words."""
    text = str(exc)
    name = where
    if (named := _FIELD_NAMED.search(text)) is not None:  # a field inside a list's item: charts[0].colour
        found = _PATH.search(text)
        name = f"{found[2]}.{named[2]}" if found is not None and found[2] else named[2]
    elif (found := _PATH.search(text)) is not None and found[2]:
        name = re.sub(r"\[\.\.\.\]$", "", found[2])
    reason = text.split(" - at ")[0]
    for pattern, say in _MESSAGES:
        if (m := pattern.search(reason)) is not None:
            reason = say(m)
            break
    return ApiError(400, "invalid_argument", f"{name}: {reason}", name)


def _is_list(tp: Any) -> bool:
    if get_origin(tp) is list:
        return True
    return any(get_origin(a) is list for a in get_args(tp))


def _list_fields(struct: type[msgspec.Struct]) -> frozenset[str]:
    hints = get_type_hints(struct, include_extras=True)
    names = set()
    for name in struct.__struct_fields__:
        tp = hints[name]
        while get_origin(tp) is not None and hasattr(tp, "__metadata__"):  # Annotated
            tp = get_args(tp)[0]
        if _is_list(tp):
            names.add(name)
    return frozenset(names)


def parse_query(request: Request, struct: type[msgspec.Struct]) -> Any:
    """The query string as ``struct``: each field once (repeated for lists); parameters the
    operation does not declare are ignored, as HTTP expects. An empty value is a value: the
    empty text for a text field, a 400 for a number."""
    lists = _list_fields(struct)
    raw: dict[str, Any] = {}
    params = request.query_params
    for name in struct.__struct_fields__:
        values = params.getlist(name)
        if not values:
            continue
        if name in lists:
            raw[name] = values
        elif len(values) > 1:
            raise ApiError(400, "invalid_argument", f"{name}: give it once", name)
        else:
            raw[name] = values[0]
    try:
        return msgspec.convert(raw, struct, strict=False)
    except msgspec.ValidationError as exc:
        raise _invalid(exc, "query") from None


def _integral(value: Any) -> Any:
    """``value`` with every float that is a whole number as an int (``378.0`` -> ``378``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


async def parse_body(request: Request, endpoint: Endpoint) -> Any:
    assert endpoint.body is not None
    data = await request.body()
    if not data.strip():
        if endpoint.body_required:
            raise ApiError(400, "invalid_argument", "body: a JSON object is required", "body")
        data = b"{}"
    try:
        return msgspec.json.decode(data, type=endpoint.body)
    except msgspec.ValidationError as exc:
        if re.search(r"Expected `int[ `|].*got `float`", str(exc)):  # JSON Schema's integers include 378.0
            try:
                whole = msgspec.json.encode(_integral(msgspec.json.decode(data)))
                return msgspec.json.decode(whole, type=endpoint.body)
            except msgspec.ValidationError:
                pass
        raise _invalid(exc, "body") from None
    except msgspec.DecodeError:
        raise ApiError(400, "invalid_argument", "body: not valid JSON", "body") from None


async def caller(request: Request, auth: Auth) -> Principal:
    if auth == "required":
        return await principal(request)
    if auth == "optional":
        return await reader(request)
    return Principal("", "public", "")


def render(request: Request, endpoint: Endpoint, result: Any) -> Response:
    if isinstance(result, Response):
        return result
    status, headers = next(iter(endpoint.responses)), None
    if isinstance(result, Reply):
        status, headers, result = result.status, result.headers, result.body
    data = msgspec.to_builtins(result)
    if endpoint.etag and status == 200:
        return etag_json(request, data)
    return JSONResponse(data, status_code=status, headers=dict(headers) if headers else None)


def route(endpoint: Endpoint) -> Route:
    """The Starlette route of one operation: authenticate, parse, call, render."""

    async def run(request: Request) -> Response:
        who = await caller(request, endpoint.auth)
        query = parse_query(request, endpoint.query)
        body = await parse_body(request, endpoint) if endpoint.body is not None else None
        call: Call[Any, Any] = Call(request, state(request), who, query, body, dict(request.path_params))
        return render(request, endpoint, await endpoint.handler(call))

    return Route(endpoint.path, run, methods=[endpoint.method])
