"""``/api/v1/projects``: counts, nesting, search, sort and pages, scoped to the workspace."""

from __future__ import annotations

import secrets

import pytest

from devstack import Stack
from tests.conftest import new_id
from tests.e2e.helpers import gateway, open_experiment, wait_for

pytestmark = pytest.mark.engines


def test_projects_with_counts_search_sort_and_pages(stack: Stack) -> None:
    root = "proj-" + secrets.token_hex(3)
    ids = {}
    for project, n in [(f"{root}/vision/resnet", 3), (f"{root}/vision", 1), (f"{root}/nlp", 2)]:
        for _ in range(n):
            ids.setdefault(project, []).append(exp := new_id())
            open_experiment(stack, exp, project=project)
    with gateway(stack) as gw:
        wait_for(
            "every experiment",
            lambda: (
                gw.get("/api/v1/experiments", params={"project": f"{root}/nlp"}).json()["total"] == 2
                and gw.get("/api/v1/experiments", params={"project": f"{root}/vision/resnet"}).json()["total"] == 3
            ),
        )
        archived = ids[f"{root}/nlp"][0]
        assert gw.post(f"/api/v1/experiments/{archived}/archive").status_code == 200

        r = gw.get("/api/v1/projects", params={"search": root.upper()})
        assert r.status_code == 200, r.text
        body = r.json()
        by_path = {p["path"]: p for p in body["projects"]}
        assert set(by_path) == {root, f"{root}/vision", f"{root}/vision/resnet", f"{root}/nlp"}  # parents too
        assert body["total"] == 4
        assert by_path[f"{root}/vision/resnet"]["experiments"] == 3
        assert by_path[f"{root}/vision/resnet"]["parent"] == f"{root}/vision"
        assert by_path[f"{root}/vision"]["experiments"] == 1 and by_path[root]["experiments"] == 0
        assert (by_path[f"{root}/nlp"]["experiments"], by_path[f"{root}/nlp"]["archived_experiments"]) == (1, 1)
        assert by_path[f"{root}/nlp"]["last_update"] >= by_path[f"{root}/nlp"]["created_at"]

        most = gw.get("/api/v1/projects", params={"search": root, "order_by": "-experiments"}).json()["projects"]
        assert [p["path"] for p in most][:1] == [f"{root}/vision/resnet"]
        names = [p["path"] for p in gw.get("/api/v1/projects", params={"search": root}).json()["projects"]]
        assert names == sorted(names)
        page = gw.get("/api/v1/projects", params={"search": root, "page": 1, "page_size": 3}).json()
        assert [p["path"] for p in page["projects"]] == names[3:] and page["total"] == 4

        for params, field in [
            ({"order_by": "size"}, "order_by"),
            ({"page_size": 0}, "page_size"),
            ({"search": "x" * 300}, "search"),
        ]:
            r = gw.get("/api/v1/projects", params=params)
            assert r.status_code == 400 and r.json()["error"]["field"] == field


def test_projects_are_scoped_to_the_workspace(stack: Stack) -> None:
    root = "scoped-" + secrets.token_hex(3)
    open_experiment(stack, new_id(), project=root)
    with gateway(stack) as gw:
        wait_for("the project", lambda: gw.get("/api/v1/projects", params={"search": root}).json()["total"] == 1)
        ws = "iso-" + secrets.token_hex(3)
        other_key = gw.post("/api/v1/workspaces", json={"id": ws}).json()["admin_key"]["key"]
    with gateway(stack, key=other_key) as other:
        assert other.get("/api/v1/projects", params={"search": root}).json() == {
            "projects": [], "total": 0, "page": 0, "page_size": 50,
        }  # fmt: skip
