"""Saved views over HTTP against the stack: saved under a name (replacing one of that name),
listed for the project with the default marked, shared with the workspace's other keys,
deleted (taking the default with it); a viewer key reads them and cannot change them; bad
input is a 400 naming the field and changes nothing; another workspace sees none of them."""

from __future__ import annotations

import secrets

import pytest

from devstack import Stack
from services.common.contract import MAX_VIEW_STATE
from tests.e2e.helpers import gateway

pytestmark = pytest.mark.engines


def test_views_save_list_default_replace_delete_and_who_may(stack: Stack) -> None:
    project = "views-" + secrets.token_hex(3) + "/sweep"
    with gateway(stack) as gw:
        best = {"project": project, "name": "best", "state": "order=metrics.loss/val.min", "default": True}
        r = gw.post("/api/v1/views", json=best)
        assert r.status_code == 200, r.text
        assert r.json()["default_view"] == "best"
        r = gw.post("/api/v1/views", json={"project": project, "name": "failed ones", "state": "status=failed"})
        body = r.json()
        assert [(v["name"], v["default"]) for v in body["views"]] == [("best", True), ("failed ones", False)]
        replaced = gw.post("/api/v1/views", json={"project": project, "name": "best", "state": "order=name"}).json()
        assert next(v for v in replaced["views"] if v["name"] == "best")["state"] == "order=name"
        assert replaced["default_view"] == "best"  # replacing keeps it the default

        viewer = gw.post("/api/v1/keys", json={"name": "views-viewer", "role": "viewer"}).json()
        with gateway(stack, key=viewer["key"]) as v:
            seen = v.get("/api/v1/views", params={"project": project})
            assert seen.status_code == 200 and len(seen.json()["views"]) == 2  # shared with the workspace
            refused = v.post("/api/v1/views", json={"project": project, "name": "mine", "state": ""})
            assert refused.status_code == 403 and refused.json()["error"]["field"] == "Authorization"

        for bad, field in [
            ({"project": project, "name": "", "state": ""}, "name"),
            ({"project": project, "name": "x" * 101, "state": ""}, "name"),
            ({"project": project, "name": "big", "state": "a" * (MAX_VIEW_STATE + 1)}, "state"),
            ({"project": "", "name": "n", "state": ""}, "project"),
            ({"project": project, "name": "n", "state": "", "colour": "red"}, "colour"),
        ]:
            r = gw.post("/api/v1/views", json=bad)
            assert r.status_code == 400 and r.json()["error"]["field"] == field, (bad, r.text)
        assert gw.post("/api/v1/views/delete", json={"project": project, "name": "nope"}).status_code == 404
        assert gw.post("/api/v1/views/default", json={"project": project, "name": "nope"}).status_code == 404
        assert len(gw.get("/api/v1/views", params={"project": project}).json()["views"]) == 2  # nothing changed

        switched = gw.post("/api/v1/views/default", json={"project": project, "name": "failed ones"}).json()
        assert switched["default_view"] == "failed ones"
        gone = gw.post("/api/v1/views/delete", json={"project": project, "name": "failed ones"}).json()
        assert [v["name"] for v in gone["views"]] == ["best"] and gone["default_view"] is None
        cleared = gw.post("/api/v1/views/default", json={"project": project, "name": ""}).json()
        assert cleared["default_view"] is None

        other = gw.post("/api/v1/workspaces", json={"id": "views-" + secrets.token_hex(3)}).json()
        with gateway(stack, key=other["admin_key"]["key"]) as o:
            assert o.get("/api/v1/views", params={"project": project}).json()["views"] == []
