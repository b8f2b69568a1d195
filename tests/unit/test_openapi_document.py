"""The OpenAPI document is generated from the same declarations the server parses with: these
check its shape (every route documented, path parameters declared, errors and bodies typed) and
that each example it shows is accepted by the type it illustrates. Whether the running server
keeps to it is tests/e2e/test_api_contract.py's job (schemathesis)."""

from __future__ import annotations

import re

import msgspec
from starlette.routing import Route

from gateway import schemas
from gateway.app import create_app
from gateway.openapi import build
from gateway.routes import ENDPOINTS

DOC = build(ENDPOINTS)


def _app_operations() -> set[tuple[str, str]]:
    ops = set()
    for route in create_app().routes:
        # the web UI's pages are not API; MLflow's REST API is MLflow's, documented by MLflow
        if isinstance(route, Route) and route.name not in ("ui", "mlflow"):
            for method in route.methods or ():
                if method != "HEAD":
                    ops.add((re.sub(r":\w+}", "}", route.path), method.lower()))
    return ops


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    documented = {(path, method) for path, item in DOC["paths"].items() for method in item}
    assert _app_operations() == documented
    assert len(documented) >= 46


def test_operations_declare_their_path_parameters_errors_and_ids() -> None:
    ids = []
    for path, item in DOC["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == names, (method, path)
            assert op["responses"]["4XX"] == {"$ref": "#/components/responses/Error"}, (method, path)
            assert op["security"] in ([{"bearer": []}], [{"bearer": []}, {}], []), (method, path)
            ids.append(op["operationId"])
    assert len(ids) == len(set(ids))


def test_request_bodies_refuse_unknown_fields_and_answers_are_typed() -> None:
    components = DOC["components"]["schemas"]
    for cls in _bodies():
        if cls.__name__ in components:
            assert components[cls.__name__]["additionalProperties"] is False, cls.__name__
    for path, item in DOC["paths"].items():
        for op in item.values():
            for status, answer in op["responses"].items():
                if status.startswith("2") and "content" in answer and "application/json" in answer["content"]:
                    assert "schema" in answer["content"]["application/json"], (path, status)


def test_every_example_is_accepted_by_its_own_type() -> None:
    shown = 0
    for cls in _bodies():
        for example in cls.examples:
            msgspec.convert(example, cls)
            shown += 1
    assert shown >= 10


def test_the_rules_a_field_list_cannot_say_are_in_the_document() -> None:
    components = DOC["components"]["schemas"]
    assert components["ExperimentEdit"]["minProperties"] == 1
    assert {alt["required"][0] for alt in components["TagEdit"]["anyOf"]} == {"add", "remove"}
    assert len(components["EmbedRequest"]["oneOf"]) == 2
    assert DOC["paths"]["/api/v1/embeds"]["post"]["responses"]["201"]["links"]["revoke"]["operationId"] == (
        "post_revoke_embed"
    )


def _bodies() -> list[type[schemas.Body]]:
    found: list[type[schemas.Body]] = []
    todo: list[type[schemas.Body]] = [schemas.Body]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found
