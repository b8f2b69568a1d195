"""What a ``/widget/`` URL asks for, parsed and checked: ClearML's embed parameters, so their
embed codes carry over.

Identity: ``objects=<id>`` repeated, or a dynamic query over the experiment table —
``project``, ``tags[]`` (``-`` prefix excludes), ``status[]``, ``page``, ``page_size``,
``order_by[]`` (``-last_update``, ``name``, ClearML's ``last_metrics.<md5>.<md5>.max_value``, or
our own identifiers such as ``-metrics.acc/val.max``). What to draw: ``type``, ``metrics``,
``variants``, ``xaxis``, ``value_type``, ``iteration``, ``light``; ``format=json`` for data only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import ApiError
from services.common.contract import EXPERIMENT_ID

TYPES = ("scalar", "plot", "single", "sample", "parcoords")
XAXES = {"iter": "iter", "timestamp": "relative", "iso_time": "wall"}
VALUE_TYPES = {"value": "last", "min_value": "min", "max_value": "max"}
OBJECT_TYPES = ("task", "model")
# ClearML's status names next to ours.
STATUS_ALIASES = {"in_progress": "running", "running": "running", "completed": "completed", "failed": "failed",
                  "stopped": "stopped", "closed": "stopped"}  # fmt: skip
ORDER_ATTRIBUTES = {
    "last_update": "attributes.updated", "name": "attributes.name", "created": "attributes.created",
    "started": "attributes.started", "completed": "attributes.ended", "status": "attributes.status",
}  # fmt: skip

MAX_OBJECTS = 50
MAX_PAGE_SIZE = 50
MAX_NAMES = 50
MAX_TEXT = 255
MD5 = EXPERIMENT_ID  # ClearML's metric/variant ids: 32 hex characters too
_LAST_METRICS = re.compile(r"^last_metrics\.([0-9a-f]{32})\.([0-9a-f]{32})\.(value|min_value|max_value)$")
_OWN_ORDER = re.compile(r"^(metrics|attributes|params|tags)\.")
_SAFE_TEXT = re.compile(r"^[^'\\\x00-\x1f]*$")


def _bad(field_name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_argument", f"{field_name}: {message}", field_name)


@dataclass(frozen=True)
class WidgetSpec:
    object_type: str
    objects: tuple[str, ...]
    query: Mapping[str, Any]  # normalized dynamic query (empty when objects are given)
    type: str
    metrics: tuple[str, ...]
    variants: tuple[str, ...]
    xaxis: str  # ours: iter | relative | wall
    value_type: str  # ours: last | min | max
    iteration: int | None
    light: bool
    fmt: str  # html | json
    token: str | None
    workspace: str  # ``workspace`` / ClearML's ``company``: whose public projects, without a key
    extra: dict[str, str] = field(default_factory=dict)

    def scope(self) -> dict[str, Any]:
        """What an embed token for this widget grants: its objects, or its query."""
        if self.objects:
            return {"object_type": self.object_type, "objects": sorted(set(self.objects))}
        return {"object_type": self.object_type, "query": dict(self.query)}

    def covered_by(self, scope: Mapping[str, Any]) -> bool:
        if scope.get("object_type") != self.object_type:
            return False
        if self.objects:
            return set(self.objects) <= set(scope.get("objects") or ())
        return scope.get("query") == dict(self.query)


def _list(params: Sequence[tuple[str, str]], name: str) -> list[str]:
    """Values of ``name`` and ``name[]``, repeated and/or comma-separated."""
    out: list[str] = []
    for key, value in params:
        if key in (name, f"{name}[]"):
            out.extend(v for v in value.split(",") if v != "")
    return out


def _one(params: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    if len(values) > 1:
        raise _bad(name, "give it once")
    return values[0] if values else None


def _choice(params: Sequence[tuple[str, str]], name: str, default: str) -> str:
    """One of a parameter's names: absent means the default; given empty is not a choice."""
    value = _one(params, name)
    return default if value is None else value


def _int(params: Sequence[tuple[str, str]], name: str, default: int | None, low: int, high: int) -> int | None:
    text = _one(params, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _bad(name, f"an integer from {low} to {high}") from None
    if not low <= value <= high:
        raise _bad(name, f"an integer from {low} to {high}")
    return value


def _texts(values: list[str], name: str) -> tuple[str, ...]:
    if len(values) > MAX_NAMES:
        raise _bad(name, f"at most {MAX_NAMES}")
    for v in values:
        if len(v) > MAX_TEXT:
            raise _bad(name, f"names are at most {MAX_TEXT} characters")
    return tuple(values)


def _order(values: list[str]) -> list[str]:
    """ClearML and own order keys -> the experiment table's ``order_by`` identifiers."""
    out = []
    for raw in values:
        desc, key = raw.startswith("-"), raw.lstrip("-+")
        if key in ORDER_ATTRIBUTES:
            ident = ORDER_ATTRIBUTES[key]
        elif m := _LAST_METRICS.match(key):
            ident = f"metrics.`md5:{m.group(1)}/md5:{m.group(2)}`.{VALUE_TYPES[m.group(3)]}"
        elif _OWN_ORDER.match(key) and _SAFE_TEXT.match(key) and len(key) <= MAX_TEXT:
            ident = key
        else:
            known = ", ".join(ORDER_ATTRIBUTES)
            raise _bad("order_by", f"{raw!r}: use {known}, last_metrics.<md5>.<md5>.<value_type> or metrics.<m>/<v>")
        out.append(("-" if desc else "") + ident)
    return out


def parse(params: Sequence[tuple[str, str]]) -> WidgetSpec:
    """The widget's parameters, checked; ApiError(400) naming the parameter otherwise."""
    object_type = _choice(params, "objectType", "task")
    if object_type not in OBJECT_TYPES:
        raise _bad("objectType", "task or model")
    kind = _choice(params, "type", "scalar")
    if kind not in TYPES:
        raise _bad("type", f"one of {', '.join(TYPES)}")
    given = [v for k, v in params if k in ("objects", "objects[]")]
    if any(v.strip(",") == "" for v in given):
        raise _bad("objects", "an empty id: give experiment ids, or leave objects out for a dynamic query")
    if len(given) > MAX_OBJECTS:
        raise _bad("objects", f"at most {MAX_OBJECTS}")
    objects = tuple(dict.fromkeys(_list(params, "objects")))
    if len(objects) > MAX_OBJECTS:
        raise _bad("objects", f"at most {MAX_OBJECTS}")
    for obj in objects:
        exp_id = obj.partition(":")[0] if object_type == "model" else obj
        if not EXPERIMENT_ID.match(exp_id) or len(obj) > 32 + 1 + MAX_TEXT:
            shape = "<experiment id>[:<model name>]" if object_type == "model" else "a 32-character hex id"
            raise ApiError(404, "not_found", f"objects: {obj!r} is not {shape}", "objects")
    query: dict[str, Any] = {}
    if not objects:
        project = _one(params, "project") or ""
        if len(project) > MAX_TEXT:
            raise _bad("project", f"at most {MAX_TEXT} characters")
        tags = _texts(_list(params, "tags"), "tags")
        statuses = []
        for s in _list(params, "status"):
            if s not in STATUS_ALIASES:
                raise _bad("status", f"{s!r}: one of {', '.join(STATUS_ALIASES)}")
            statuses.append(STATUS_ALIASES[s])
        for value, name in [(project, "project"), *((t, "tags") for t in tags)]:
            if not _SAFE_TEXT.match(value):
                raise _bad(name, "no quotes, backslashes or control characters")
        query = {
            "project": project,
            "tags": sorted(set(tags)),
            "status": sorted(set(statuses)),
            "page": _int(params, "page", 0, 0, 10_000),
            "page_size": _int(params, "page_size", 10, 1, MAX_PAGE_SIZE),
            "order_by": _order(_list(params, "order_by")) or ["-attributes.updated"],
        }
    xaxis = _choice(params, "xaxis", "iter")
    if xaxis not in XAXES:
        raise _bad("xaxis", f"one of {', '.join(XAXES)}")
    value_type = _choice(params, "value_type", "value")
    if value_type not in VALUE_TYPES:
        raise _bad("value_type", f"one of {', '.join(VALUE_TYPES)}")
    fmt = _choice(params, "format", "html")
    if fmt not in ("html", "json"):
        raise _bad("format", "html or json")
    metrics = _texts([v for k, v in params if k in ("metrics", "metrics[]")], "metrics")
    variants = _texts([v for k, v in params if k in ("variants", "variants[]")], "variants")
    if kind == "parcoords" and (len(metrics) != 1 or not variants):
        raise _bad(
            "metrics",
            "parcoords takes one metric (metric/variant or ClearML's <md5>.<md5>) and variants=<section>.<name>",
        )
    token = _one(params, "token")
    workspace = _one(params, "workspace") or _one(params, "company") or ""
    return WidgetSpec(
        object_type=object_type,
        objects=objects,
        query=query,
        type=kind,
        metrics=metrics,
        variants=variants,
        xaxis=XAXES[xaxis],
        value_type=VALUE_TYPES[value_type],
        iteration=_int(params, "iteration", None, 0, 2**62),
        light=any(k == "light" for k, _ in params),
        fmt=fmt,
        token=token,
        workspace=workspace,
    )


def query_filter(query: Mapping[str, Any]) -> str:
    """A dynamic query's tags and statuses in the experiment table's filter language. Tags: any of
    the wanted ones, none of the ``-`` ones."""
    wanted = [t for t in query["tags"] if not t.startswith("-")]
    unwanted = [t[1:] for t in query["tags"] if t.startswith("-") and len(t) > 1]
    parts = []
    if wanted:
        parts.append("attributes.tags IN (" + ", ".join(f"'{t}'" for t in wanted) + ")")
    if unwanted:
        parts.append("attributes.tags NOT IN (" + ", ".join(f"'{t}'" for t in unwanted) + ")")
    if query["status"]:
        parts.append("attributes.status IN (" + ", ".join(f"'{s}'" for s in query["status"]) + ")")
    return " AND ".join(parts)


# The parameters as the OpenAPI document describes them (parsed above, by hand).
def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


WIDGET_PARAMETERS = [
    _q("objectType", {"enum": ["task", "model"], "default": "task"}, "experiments, or their output models"),
    {
        "name": "objects", "in": "query", "required": False, "style": "form", "explode": True,
        "schema": {"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 50},
        "description": "ids, repeated; or a dynamic query (project, tags[], status[], page, page_size, order_by[])",
    },
    _q("project", {"type": "string", "maxLength": 255}, "dynamic query: exact project path"),
    _q("tags[]", {"type": "string", "maxLength": 255, "pattern": _SAFE_TEXT.pattern}, "dynamic query: any; '-' none"),
    _q("status[]", {"type": "string"}, "dynamic query: running (in_progress), completed, failed, stopped"),
    _q("page", {"type": "integer", "minimum": 0, "maximum": 1000000, "default": 0}, "dynamic query: page"),
    _q("page_size", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, "dynamic query: page size"),
    _q("order_by[]", {"type": "string"}, "dynamic query: -last_update, name, last_metrics.<md5>.<md5>.max_value …"),
    _q("type", {"enum": ["scalar", "plot", "single", "sample", "parcoords"], "default": "scalar"}, "what to draw"),
    _q("metrics", {"type": "string", "maxLength": 255}, "metric names (or md5 ids), repeated"),
    _q("variants", {"type": "string", "maxLength": 255}, "variant names (parcoords: section.name), repeated"),
    _q("xaxis", {"enum": ["iter", "timestamp", "iso_time"], "default": "iter"}, "x-axis"),
    _q("value_type", {"enum": ["value", "min_value", "max_value"], "default": "value"}, "parcoords: which value"),
    _q("iteration", {"type": "integer", "minimum": 0}, "plot/sample: this iteration (default the latest)"),
    _q("light", {"type": "string"}, "present: light theme"),
    _q("format", {"enum": ["html", "json"], "default": "html"}, "json: the data only"),
    _q("token", {"type": "string", "maxLength": 512}, "an embed token (instead of a key)"),
    _q("workspace", {"type": "string"}, "without a key or token: whose public projects (ClearML's company)"),
]  # fmt: skip
