"""The OpenAPI 3.1 document, generated from the operations' declarations (``gateway.api``) and
their request and response types (``gateway.schemas``): what the server parses and answers is
what the document says. Served at ``/api/v1/openapi.json``; ``make test`` runs schemathesis over
it with every check."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import msgspec

from gateway import schemas
from gateway.api import Endpoint, Media
from services.common import contract

REF = "#/components/schemas/{name}"
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "experiment_id": {"type": "string", "pattern": contract.EXPERIMENT_ID.pattern},
    "report_id": {"type": "string", "pattern": contract.REPORT_ID.pattern},
    "name": {"type": "string", "minLength": 1, "maxLength": contract.MAX_NAME},
    "key_id": {"type": "string", "pattern": contract.KEY_ID.pattern},
    "embed_id": {"type": "string", "pattern": contract.EMBED_ID.pattern},
    "workspace": {"type": "string", "pattern": contract.WORKSPACE_ID.pattern},
    "user": {"type": "string", "pattern": contract.USER_NAME.pattern},
    "project": {"type": "string", "maxLength": contract.MAX_NAME, "pattern": schemas.PROJECT_PATTERN},
}
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "required": [{"bearer": []}],
    "optional": [{"bearer": []}, {}],
    "custom": [{"bearer": []}, {}],
    "none": [],
}
ERROR = {"$ref": "#/components/responses/Error"}


def _types(endpoints: list[Endpoint]) -> list[Any]:
    found: dict[Any, None] = {}
    for e in endpoints:
        found[e.query] = None
        if e.body is not None:
            found[e.body] = None
        for answer in e.responses.values():
            for item in answer if isinstance(answer, list) else [answer]:
                if item is not None and not isinstance(item, Media):
                    found[item] = None
    found[schemas.Error] = None
    return list(found)


def _content(answer: Any, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for item in answer if isinstance(answer, list) else [answer]:
        if isinstance(item, Media):
            content[item.content_type] = {"schema": item.schema}
        else:
            content["application/json"] = {"schema": refs[item]}
    return content


def _parameters(endpoint: Endpoint, components: dict[str, Any], refs: dict[Any, dict[str, Any]]) -> list[Any]:
    params: list[dict[str, Any]] = []
    for name in _path_names(endpoint.openapi_path):
        schema = endpoint.path_params.get(name) or PATH_PARAMETERS[name]
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    query = components[refs[endpoint.query]["$ref"].rsplit("/", 1)[1]]
    required = set(query.get("required", []))
    for name, schema in query.get("properties", {}).items():
        schema = dict(schema)
        description = schema.pop("description", "")
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if schema.get("type") == "array":
            param.update(style="form", explode=True)
        if description:
            param["description"] = description
        params.append(param)
    params.extend(endpoint.extra_parameters)
    if endpoint.etag:
        params.append(
            {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "the ETag of an earlier answer: 304 when nothing changed"}
        )  # fmt: skip
    return params


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _operation(endpoint: Endpoint, components: dict[str, Any], refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, answer in endpoint.responses.items():
        entry: dict[str, Any] = {"description": "OK" if status < 300 else "see the body"}
        if status == 202:
            entry["description"] = "Accepted: on the log, not applied yet (the projection lags)"
        if answer is not None:
            entry["content"] = _content(answer, refs)
        if endpoint.links and status == next(iter(endpoint.responses)):
            entry["links"] = endpoint.links
        responses[str(status)] = entry
    if endpoint.etag:
        responses["304"] = {"description": "Not Modified: the If-None-Match ETag is still current"}
    responses["4XX"] = ERROR
    op: dict[str, Any] = {
        "operationId": f"{endpoint.method.lower()}_{endpoint.handler.__name__}",
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": _parameters(endpoint, components, refs),
        "responses": responses,
        "security": SECURITY[endpoint.auth],
    }
    if endpoint.description:
        op["description"] = endpoint.description
    if endpoint.body is not None:
        body_schema = refs[endpoint.body]
        op["requestBody"] = {
            "required": endpoint.body_required,
            "content": {"application/json": {"schema": body_schema}},
        }
    if endpoint.body_media:
        raw = {"type": "string", "format": "binary"}
        op["requestBody"] = {"required": True, "content": {media: {"schema": raw} for media in endpoint.body_media}}
    return op


def _with_rules(components: dict[str, Any]) -> dict[str, Any]:
    """Each body type's ``schema_extra`` (at least one of …) merged into its component."""
    out = dict(components)
    for cls in _subclasses(schemas.Body):
        extra: dict[str, Any] = dict(getattr(cls, "schema_extra", {}))
        if getattr(cls, "examples", None):
            extra["examples"] = cls.examples  # type: ignore[attr-defined]
        if cls.__name__ in out and extra:
            out[cls.__name__] = {**out[cls.__name__], **extra}
    return out


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    sub: type
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def build(endpoints: list[Endpoint]) -> dict[str, Any]:
    types = _types(endpoints)
    ref_list, components = msgspec.json.schema_components(types, ref_template=REF)
    refs = dict(zip(types, ref_list, strict=True))
    components = _with_rules(components)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.openapi_path, {})[endpoint.method.lower()] = _operation(endpoint, components, refs)
    queries = {refs[e.query]["$ref"].rsplit("/", 1)[1] for e in endpoints}
    for name in queries:  # query types become parameters, not components
        components.pop(name, None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tracklane",
            "version": version("tracklane-server"),
            "description": "Experiment tracking HTTP API. Errors: a 4xx/5xx status and "
            '{"error": {"code", "message", "field"}}. Commands answer 202 Accepted when their projection lags.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API key"}},
            "responses": {
                "Error": {
                    "description": "An error, naming the field when one is at fault",
                    "content": {"application/json": {"schema": refs[schemas.Error]}},
                }
            },
        },
    }
