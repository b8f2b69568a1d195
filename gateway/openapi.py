"""The OpenAPI 3.1 description of the HTTP API, served at ``/api/v1/openapi.json``.

Written by hand next to the routes; tests/e2e/test_openapi.py fails when a route and the spec
disagree (a route missing from the spec, or a documented path or method that does not exist)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tracklane import __version__

_ERROR = {"$ref": "#/components/responses/Error"}
_ID = {
    "name": "experiment_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_KEY_ID = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
_WS = {"name": "workspace", "in": "path", "required": True, "schema": {"type": "string"}}
_USER = {
    "name": "user",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"},
}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_WIDGET_PARAMS = [
    _q("objectType", {"enum": ["task", "model"], "default": "task"}, "experiments, or their output models"),
    {
        "name": "objects", "in": "query", "required": False, "style": "form", "explode": True,
        "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
        "description": "ids, repeated; or a dynamic query (project, tags[], status[], page, page_size, order_by[])",
    },
    _q("project", {"type": "string"}, "dynamic query: exact project path"),
    _q("tags[]", {"type": "string"}, "dynamic query: comma-separated; any of these, none of the '-' ones"),
    _q("status[]", {"type": "string"}, "dynamic query: running (in_progress), completed, failed, stopped"),
    _q("page", {"type": "integer", "minimum": 0, "default": 0}, "dynamic query: page"),
    _q("page_size", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, "dynamic query: page size"),
    _q("order_by[]", {"type": "string"}, "dynamic query: -last_update, name, last_metrics.<md5>.<md5>.max_value …"),
    _q("type", {"enum": ["scalar", "plot", "single", "sample", "parcoords"], "default": "scalar"}, "what to draw"),
    _q("metrics", {"type": "string"}, "metric names (or md5 ids), repeated"),
    _q("variants", {"type": "string"}, "variant names (parcoords: parameters section.name), repeated"),
    _q("xaxis", {"enum": ["iter", "timestamp", "iso_time"], "default": "iter"}, "x-axis"),
    _q("value_type", {"enum": ["value", "min_value", "max_value"], "default": "value"}, "parcoords: which value"),
    _q("iteration", {"type": "integer", "minimum": 0}, "plot/sample: this iteration (default the latest)"),
    _q("light", {"type": "string"}, "present: light theme"),
    _q("format", {"enum": ["html", "json"], "default": "html"}, "json: the data only"),
    _q("token", {"type": "string"}, "an embed token (instead of a key)"),
    _q("workspace", {"type": "string"}, "without a key or token: whose public projects (ClearML's company)"),
]  # fmt: skip

_ITERATION = _q("iteration", {"type": "integer", "minimum": 0}, "one iteration (default: the latest)")
_MAX_BYTES = _q("max_bytes", {"type": "integer", "minimum": 1, "maximum": 1048576, "default": 65536}, "bytes")

_PAGE = [
    _q("page", {"type": "integer", "minimum": 0, "default": 0}, "page number, from 0"),
    _q("page_size", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "rows per page"),
]


def _op(
    summary: str,
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    ok: str = "200",
    public: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": params or [],
        "responses": {ok: {"description": "OK", "content": {"application/json": {}}}, "4XX": _ERROR},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if public:
        op["security"] = []
    return op


def _obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "additionalProperties": False}


_STR = {"type": "string"}
_TAGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 128}, "maxItems": 64}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Tracklane", "version": __version__, "description": "Experiment tracking HTTP API."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API key"}},
        "responses": {
            "Error": {
                "description": "An error, naming the field when one is at fault",
                "content": {
                    "application/json": {
                        "schema": _obj(
                            error=_obj(code=_STR, message=_STR, field={"type": ["string", "null"]}),
                        )
                    }
                },
            }
        },
    },
    "paths": {
        "/healthz": {"get": _op("Liveness", public=True)},
        "/readyz": {"get": _op("Readiness: every service answers SERVING", public=True)},
        "/api/v1/openapi.json": {"get": _op("This document", public=True)},
        "/api/v1/projects": {
            "get": _op(
                "Projects with experiment counts",
                params=[
                    _q(
                        "search",
                        {"type": "string", "maxLength": 255},
                        "case-insensitive substring of path or description",
                    ),
                    _q(
                        "order_by",
                        {"enum": ["name", "-name", "last_update", "-last_update", "experiments", "-experiments"]},
                        "sort",
                    ),
                    *_PAGE,
                ],
            )
        },
        "/api/v1/experiments": {
            "get": _op(
                "Experiments of the caller's workspace, newest first",
                params=[
                    _q("project", _STR, "exact project path"),
                    _q("archived", {"enum": ["false", "true"]}, "archived ones instead of active ones"),
                    _q("deleted", {"enum": ["false", "true"]}, "soft-deleted ones instead"),
                    _q("filter", {"type": "string", "maxLength": 4096}, "MLflow search syntax with OR and ()"),
                    _q("order_by", {"type": "string"}, "identifiers, '-' prefix or ASC/DESC, comma-separated"),
                    _q("columns", {"type": "string"}, "identifiers whose values each row carries in `columns`"),
                    _q("group_by", {"type": "string"}, "one identifier: counts per value in `groups`"),
                    *_PAGE,
                ],
            )
        },
        "/api/v1/experiments/{experiment_id}": {
            "get": _op("One experiment", params=[_ID]),
            "patch": _op(
                "Rename and/or describe",
                params=[_ID],
                body=_obj(
                    name={"type": "string", "minLength": 1, "maxLength": 255},
                    description={"type": "string", "maxLength": 10000},
                ),
            ),
        },
        "/api/v1/experiments/{experiment_id}/scalars": {
            "get": _op(
                "Scalar series, downsampled to buckets with min/max/mean/last",
                params=[
                    _ID,
                    _q("metric", _STR, "only this metric"),
                    _q("variant", _STR, "only this variant"),
                    _q("samples", {"type": "integer", "minimum": 1, "maximum": 20000, "default": 2000}, "buckets"),
                    _q("xaxis", {"enum": ["iter", "relative", "wall"], "default": "iter"}, "x-axis"),
                    _q("x_min", {"type": "number"}, "zoom: lowest x"),
                    _q("x_max", {"type": "number"}, "zoom: highest x"),
                ],
            )
        },
        "/api/v1/experiments/{experiment_id}/tags": {
            "post": _op("Add and/or remove tags", params=[_ID], body=_obj(add=_TAGS, remove=_TAGS))
        },
        "/api/v1/experiments/{experiment_id}/archive": {"post": _op("Archive", params=[_ID])},
        "/api/v1/experiments/{experiment_id}/restore": {
            "post": _op("Back from the deleted ones, or from the archive", params=[_ID])
        },
        "/api/v1/experiments/{experiment_id}/move": {
            "post": _op("Move to another project (created on the fly)", params=[_ID], body=_obj(project=_STR))
        },
        "/api/v1/experiments/{experiment_id}/publish": {"post": _op("Publish: read-only from now on", params=[_ID])},
        "/api/v1/experiments/{experiment_id}/delete": {"post": _op("Soft delete (archived ones only)", params=[_ID])},
        "/api/v1/experiments/{experiment_id}/clear": {
            "post": _op("Remove a deleted experiment for good, with its metrics", params=[_ID])
        },
        "/api/v1/experiments/bulk": {
            "post": _op(
                "One command for up to 500 experiments; per-id results (200, 404, 409)",
                body=_obj(
                    ids={"type": "array", "items": _STR, "minItems": 1, "maxItems": 500},
                    action={"enum": ["archive", "restore", "delete", "publish", "tags", "move", "stop"]},
                    add=_TAGS,
                    remove=_TAGS,
                    project=_STR,
                    reason=_STR,
                ),
            )
        },
        "/api/v1/experiments/{experiment_id}/configuration": {
            "get": _op("Hyperparameter sections, configuration objects and user properties", params=[_ID])
        },
        "/api/v1/experiments/{experiment_id}/execution": {
            "get": _op("Git repository, branch, commit and diff; entry point; packages; runtime", params=[_ID])
        },
        "/api/v1/experiments/{experiment_id}/artifacts": {
            "get": _op("Artifacts with audit records, short previews and download links", params=[_ID])
        },
        "/api/v1/experiments/{experiment_id}/artifacts/{name}/preview": {
            "get": _op("The first bytes of a text-like artifact", params=[_ID, _NAME, _MAX_BYTES])
        },
        "/api/v1/experiments/{experiment_id}/models": {
            "get": _op("Input and output models with download links", params=[_ID])
        },
        "/api/v1/experiments/{experiment_id}/models/{name}/preview": {
            "get": _op("The first bytes of a text-like model file", params=[_ID, _NAME, _MAX_BYTES])
        },
        "/api/v1/experiments/{experiment_id}/console": {
            "get": _op(
                "Console lines: pages after a cursor, the tail, a search, or the whole log as a file",
                params=[
                    _ID,
                    _q("after", {"type": "integer", "minimum": 0}, "the cursor of the last line seen"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}, "lines"),
                    _q("tail", {"type": "integer", "minimum": 0, "maximum": 10000}, "the last N lines instead"),
                    _q("search", _STR, "only lines containing this text (case-insensitive)"),
                    _q("format", {"enum": ["json", "text"]}, "text: download the log as a file"),
                ],
            )
        },
        "/api/v1/experiments/{experiment_id}/plots": {
            "get": _op(
                "The latest plot of each metric/variant (plotly figures), or those at one iteration",
                params=[_ID, _ITERATION, _q("metric", _STR, "one metric"), _q("variant", _STR, "one variant")],
            )
        },
        "/api/v1/experiments/{experiment_id}/debug-samples": {
            "get": _op(
                "Debug samples per metric/variant at an iteration (default: the latest), with previous/next",
                params=[_ID, _ITERATION, _q("metric", _STR, "one metric"), _q("variant", _STR, "one variant")],
            )
        },
        "/api/v1/experiments/{experiment_id}/hyperparameters": {
            "patch": _op(
                "Edit hyperparameters of one section (refused once published)",
                params=[_ID],
                body=_obj(section=_STR, set={"type": "object"}, remove={"type": "array", "items": _STR}),
            )
        },
        "/api/v1/experiments/{experiment_id}/properties": {
            "patch": _op(
                "Edit user properties (refused once published)",
                params=[_ID],
                body=_obj(set={"type": "object"}, remove={"type": "array", "items": _STR}),
            )
        },
        "/api/v1/experiments/{experiment_id}/stop": {
            "post": _op("Stop a running experiment: its script raises InterruptedExperiment", params=[_ID])
        },
        "/api/v1/projects/{project}": {
            "patch": _op(
                "Make a project public (admin) or private, or edit its description; created on the fly",
                params=[{"name": "project", "in": "path", "required": True, "schema": _STR, "description": "a/b/c"}],
                body=_obj(public={"type": "boolean"}, description={"type": "string", "maxLength": 10000}),
            )
        },
        "/api/v1/compare": {
            "get": _op(
                "2 to 10 experiments side by side: details, metric summaries, overlaid scalars",
                params=[
                    {"name": "ids", "in": "query", "required": True, "schema": _STR, "description": "comma-separated"},
                    _q("metric", _STR, "with variant: overlay this series"),
                    _q("variant", _STR, "with metric: overlay this series"),
                    _q("samples", {"type": "integer", "minimum": 1, "maximum": 20000, "default": 1000}, "buckets"),
                    _q("xaxis", {"enum": ["iter", "relative", "wall"], "default": "iter"}, "x-axis"),
                ],
            )
        },
        "/api/v1/export": {
            "get": _op(
                "Runs of a project or query as a dataset, streamed",
                params=[
                    _q("project", _STR, "exact project path"),
                    _q("filter", {"type": "string", "maxLength": 4096}, "the table's filter language"),
                    _q("order_by", _STR, "the table's order_by"),
                    _q("shape", {"enum": ["long", "wide"], "default": "long"}, "a row per point/tag, or per run"),
                    _q("format", {"enum": ["csv", "jsonl", "parquet"], "default": "csv"}, "file format"),
                ],
            )
        },
        "/api/v1/keys": {
            "get": _op("API keys: all of the workspace's (admin) or the caller's own"),
            "post": _op(
                "Create a key owned by a member (admin: anyone; others: themselves); its secret is shown once",
                ok="201",
                body=_obj(name=_STR, role={"enum": ["admin", "member", "viewer"]}, user=_STR),
            ),
        },
        "/api/v1/keys/{key_id}/rotate": {"post": _op("A new secret for the key (admin or owner)", params=[_KEY_ID])},
        "/api/v1/keys/{key_id}/revoke": {"post": _op("Revoke the key for good (admin or owner)", params=[_KEY_ID])},
        "/api/v1/workspaces": {
            "get": _op("The caller's workspace, role and user"),
            "post": _op(
                "Create a workspace with a first admin member and key (admin)",
                ok="201",
                body=_obj(id={"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$"}, name=_STR, owner=_STR),
            ),
        },
        "/api/v1/workspaces/{workspace}": {
            "patch": _op(
                "Rename the workspace or set which sites may frame its widgets (admin)",
                params=[_WS],
                body=_obj(name=_STR, embed_origins={"type": ["array", "null"], "items": _STR, "maxItems": 50}),
            )
        },
        "/api/v1/embeds": {
            "get": _op("Embed grants of the workspace"),
            "post": _op(
                "A signed, read-only, expiring embed token for one widget's objects or query; shown once",
                ok="201",
                body=_obj(
                    widget={"type": "string", "description": "a /widget/ URL or query string"},
                    objects={"type": "array", "items": _STR},
                    objectType={"enum": ["task", "model"]},
                    name=_STR,
                    expires_in={"type": "number", "minimum": 60, "maximum": 31536000},
                ),
            ),
        },
        "/api/v1/embeds/code": {
            "get": _op(
                "The iframe snippet for a widget (parameters of /widget/), with a token when it shows private data",
                params=_WIDGET_PARAMS,
            )
        },
        "/api/v1/embeds/{embed_id}/revoke": {
            "post": _op(
                "Revoke a grant: its token stops working (admin or its creator)",
                params=[{"name": "embed_id", "in": "path", "required": True, "schema": _STR}],
            )
        },
        "/widget/": {
            "get": {
                **_op("A live chart as a self-contained HTML page, or its data (format=json)", params=_WIDGET_PARAMS),
                "security": [{"bearer": []}, {}],
                "responses": {
                    "200": {"description": "the page, or JSON", "content": {"text/html": {}, "application/json": {}}},
                    "4XX": _ERROR,
                },
            }
        },
        "/widget/static/{name}": {
            "get": {
                **_op("The widget's scripts (plotly.js, widget.js), cached for good", public=True),
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": _STR}],
            }
        },
        "/api/v1/workspaces/{workspace}/members": {"get": _op("The workspace's members and roles", params=[_WS])},
        "/api/v1/workspaces/{workspace}/members/{user}": {
            "put": _op(
                "Add a member or change their role (admin)",
                params=[_WS, _USER],
                body=_obj(role={"enum": ["admin", "member", "viewer"]}),
            ),
            "delete": _op("Remove a member: their keys stop working (admin)", params=[_WS, _USER]),
        },
    },
}


def _public_reads(spec: dict[str, Any]) -> None:
    """Reads of projects and experiments also work without a key, on public projects only;
    listings then name the workspace with ``?workspace=``."""
    listings = ("/api/v1/projects", "/api/v1/experiments", "/api/v1/export")
    for path, item in spec["paths"].items():
        if "get" in item and path.startswith(
            ("/api/v1/projects", "/api/v1/experiments", "/api/v1/compare", "/api/v1/export")
        ):
            item["get"]["security"] = [{"bearer": []}, {}]
            if path in listings:
                item["get"]["parameters"].append(
                    _q("workspace", _STR, "without a key: the workspace whose public projects to read")
                )


_public_reads(SPEC)


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(SPEC)


routes = [Route("/api/v1/openapi.json", openapi)]
