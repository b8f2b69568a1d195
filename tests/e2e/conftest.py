"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import secrets

import pytest

from devstack import Stack
from tests.e2e.helpers import gateway


@pytest.fixture(scope="module")
def other_workspace(stack: Stack) -> dict[str, str]:
    """A second workspace, created through the API; returns its id and admin key."""
    ws = "team-" + secrets.token_hex(3)
    with gateway(stack) as gw:
        r = gw.post("/api/v1/workspaces", json={"id": ws, "name": "Team B"})
        assert r.status_code == 201, r.text
        assert gw.post("/api/v1/workspaces", json={"id": ws}).status_code == 409
    return {"id": ws, "key": r.json()["admin_key"]["key"], "key_id": r.json()["admin_key"]["id"]}
