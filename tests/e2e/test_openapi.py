"""The served OpenAPI document: public, and the generated one."""

from __future__ import annotations

import pytest

from devstack import Stack
from gateway.openapi import build
from gateway.routes import ENDPOINTS
from tests.e2e.helpers import gateway

pytestmark = pytest.mark.engines


def test_the_document_is_served_without_a_key(stack: Stack) -> None:
    with gateway(stack, key=None) as anonymous:
        r = anonymous.get("/api/v1/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        assert doc["openapi"].startswith("3.1") and doc == build(ENDPOINTS)
