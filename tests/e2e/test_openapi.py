"""The served OpenAPI document and the gateway's routes agree, path by path and method by method."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from devstack import Stack
from gateway.app import create_app
from gateway.openapi import SPEC
from tests.e2e.helpers import gateway

pytestmark = pytest.mark.engines


def app_operations() -> set[tuple[str, str]]:
    ops = set()
    for route in create_app().routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    ops.add((re.sub(r":\w+}", "}", route.path), method.lower()))  # {p:path} is {p}
    return ops


def spec_operations() -> set[tuple[str, str]]:
    return {(path, method) for path, item in SPEC["paths"].items() for method in item}


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    assert app_operations() == spec_operations()


def test_path_parameters_are_declared() -> None:
    for path, item in SPEC["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for op in item.values():
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == names, (path, declared)


def test_the_document_is_served_without_a_key(stack: Stack) -> None:
    with gateway(stack, key=None) as anonymous:
        r = anonymous.get("/api/v1/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        assert doc["openapi"].startswith("3.1") and doc["paths"].keys() == SPEC["paths"].keys()
