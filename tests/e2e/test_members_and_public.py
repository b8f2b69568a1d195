"""Workspace members and their roles (a key never acts above its member; removing a member stops
their keys), and public projects (read-only without a key, nothing else)."""

from __future__ import annotations

import secrets

import pytest
from tracklane_proto import ingest_pb2

from devstack import Stack
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines


def _auth(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


@pytest.fixture(scope="module")
def team(stack: Stack) -> dict[str, str]:
    """A workspace whose owner is the member ``olga``; returns its id and olga's admin key."""
    ws = "members-" + secrets.token_hex(3)
    with gateway(stack) as gw:
        r = gw.post("/api/v1/workspaces", json={"id": ws, "name": "Members", "owner": "olga"})
        assert r.status_code == 201, r.text
        assert r.json()["owner"] == "olga"
    return {"id": ws, "key": r.json()["admin_key"]["key"]}


def test_members_roles_bound_their_keys_and_removal_stops_them(stack: Stack, team: dict[str, str]) -> None:
    ws = team["id"]
    with gateway(stack, key=team["key"]) as olga:
        assert olga.get("/api/v1/workspaces").json()["workspaces"][0]["user"] == "olga"
        r = olga.put(f"/api/v1/workspaces/{ws}/members/alice@example.com", json={"role": "member"})
        assert r.status_code == 201 and r.json()["role"] == "member", r.text
        members = {m["user"]: m["role"] for m in olga.get(f"/api/v1/workspaces/{ws}/members").json()["members"]}
        assert members == {"olga": "admin", "alice@example.com": "member"}

        # A key for alice: never above her role, and only for members.
        r = olga.post("/api/v1/keys", json={"user": "alice@example.com", "role": "admin"})
        assert r.status_code == 409 and r.json()["error"]["field"] == "role", r.text
        r = olga.post("/api/v1/keys", json={"user": "bob", "role": "viewer"})
        assert r.status_code == 409 and r.json()["error"]["field"] == "user"
        assert "PUT /api/v1/workspaces" in r.json()["error"]["message"]
        alice = olga.post("/api/v1/keys", json={"user": "alice@example.com", "name": "laptop"}).json()
        assert (alice["user"], alice["role"]) == ("alice@example.com", "member")

    exp = new_id()
    ingest(stack).OpenExperiment(
        ingest_pb2.OpenExperimentRequest(experiment_id=exp, project="p", name="n", user="os-login"),
        metadata=_auth(alice["key"]),
        timeout=10,
    )
    with gateway(stack, key=alice["key"]) as a:
        got = wait_for("alice's experiment", lambda: a.get(f"/api/v1/experiments/{exp}").json().get("user"))
        assert got == "alice@example.com"  # her key names her, whatever the OS user was
        assert a.get("/api/v1/workspaces").json()["workspaces"][0] == {
            "id": ws, "name": "Members", "role": "member", "user": "alice@example.com", "embed_origins": None,
        }  # fmt: skip
        # She manages her own keys only, never stronger than herself, and no members.
        assert a.post("/api/v1/keys", json={"user": "olga"}).status_code == 403
        assert a.post("/api/v1/keys", json={"role": "admin"}).status_code == 403
        ci = a.post("/api/v1/keys", json={"name": "ci", "role": "viewer"})
        assert ci.status_code == 201 and ci.json()["user"] == "alice@example.com"
        assert {k["name"] for k in a.get("/api/v1/keys").json()["keys"]} == {"laptop", "ci"}
        assert a.put(f"/api/v1/workspaces/{ws}/members/carol", json={"role": "viewer"}).status_code == 403
        assert a.post(f"/api/v1/experiments/{exp}/archive").status_code == 200

    with gateway(stack, key=team["key"]) as olga:
        # Demoted to viewer: every key of hers now only reads.
        r = olga.put(f"/api/v1/workspaces/{ws}/members/alice@example.com", json={"role": "viewer"})
        assert r.status_code == 200 and r.json()["role"] == "viewer"
    with gateway(stack, key=alice["key"]) as a:
        assert a.get("/api/v1/workspaces").json()["workspaces"][0]["role"] == "viewer"
        assert a.get(f"/api/v1/experiments/{exp}").status_code == 200
        r = a.post(f"/api/v1/experiments/{exp}/restore")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    with gateway(stack, key=team["key"]) as olga:
        r = olga.delete(f"/api/v1/workspaces/{ws}/members/alice@example.com")
        assert r.json() == {"user": "alice@example.com", "removed": True}
        assert olga.delete(f"/api/v1/workspaces/{ws}/members/alice@example.com").status_code == 404
        members = [m["user"] for m in olga.get(f"/api/v1/workspaces/{ws}/members").json()["members"]]
        assert members == ["olga"]
    for key in (alice["key"], ci.json()["key"]):
        with gateway(stack, key=key) as gone:
            r = gone.get("/api/v1/experiments")
            assert r.status_code == 401 and "no longer a member" in r.json()["error"]["message"]


def test_the_last_admin_stays_and_member_requests_are_checked(stack: Stack, team: dict[str, str]) -> None:
    ws = team["id"]
    with gateway(stack, key=team["key"]) as olga:
        r = olga.put(f"/api/v1/workspaces/{ws}/members/olga", json={"role": "member"})
        assert r.status_code == 409 and "last admin" in r.json()["error"]["message"]
        assert olga.delete(f"/api/v1/workspaces/{ws}/members/olga").status_code == 409
        for user, body, field in [
            ("has space", {"role": "member"}, "user"),
            ("-dash", {"role": "member"}, "user"),
            ("dan", {"role": "owner"}, "role"),
            ("dan", {"role": "member", "extra": 1}, "extra"),
        ]:
            r = olga.put(f"/api/v1/workspaces/{ws}/members/{user}", json=body)
            assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
        # Another workspace's members are not found, to read or to change.
        assert olga.get("/api/v1/workspaces/default/members").status_code == 404
        assert olga.put("/api/v1/workspaces/default/members/eve", json={"role": "admin"}).status_code == 404
        # With a second admin, olga may step down.
        assert olga.put(f"/api/v1/workspaces/{ws}/members/pia", json={"role": "admin"}).status_code == 201
        assert olga.put(f"/api/v1/workspaces/{ws}/members/olga", json={"role": "member"}).json()["role"] == "member"
    with gateway(stack, key=team["key"]) as olga:
        assert olga.put(f"/api/v1/workspaces/{ws}/members/quinn", json={"role": "viewer"}).status_code == 403


def test_public_projects_are_readable_without_a_key_and_nothing_else(stack: Stack) -> None:
    tag = secrets.token_hex(3)
    shown, hidden = new_id(), new_id()
    open_experiment(stack, shown, project=f"open-{tag}/sub", name="shown")
    open_experiment(stack, hidden, project=f"closed-{tag}", name="hidden")
    for exp in (shown, hidden):
        ingest(stack).Append(batch(exp, scalar_event(1, [("loss", "t", 0, 0.5)])), metadata=AUTH, timeout=10)
    with gateway(stack) as admin, gateway(stack, key=None) as anon:
        for exp in (shown, hidden):
            wait_for("the points", lambda e=exp: total_points(admin, e, "loss", "t") == 1)  # type: ignore[misc]
        ws = admin.get("/api/v1/workspaces").json()["workspaces"][0]["id"]

        # Private by default: by id it is not found; listings need a key or a workspace.
        assert anon.get(f"/api/v1/experiments/{shown}").status_code == 404
        r = anon.get("/api/v1/experiments")
        assert r.status_code == 401 and "?workspace=" in r.json()["error"]["message"]
        assert anon.get("/api/v1/projects", params={"workspace": ws}).json()["projects"] == []

        viewer = admin.post("/api/v1/keys", json={"role": "viewer", "name": "v"}).json()["key"]
        with gateway(stack, key=viewer) as v:  # making a project public takes an admin
            r = v.patch(f"/api/v1/projects/open-{tag}", json={"public": True})
            assert r.status_code == 403
        r = admin.patch(f"/api/v1/projects/open-{tag}", json={"public": True, "description": f"demo {tag}"})
        assert r.status_code == 200 and r.json()["public"] is True and r.json()["description"] == f"demo {tag}"
        assert admin.patch(f"/api/v1/projects/open-{tag}", json={"public": "yes"}).status_code == 400
        assert admin.patch(f"/api/v1/projects/open-{tag}", json={}).status_code == 400

        # Anonymous reads now see the public project, what is nested in it, and nothing else.
        listed = anon.get("/api/v1/projects", params={"workspace": ws}).json()["projects"]
        assert {p["path"] for p in listed} == {f"open-{tag}", f"open-{tag}/sub"}
        assert all(p["public"] for p in listed)
        found = admin.get("/api/v1/projects", params={"search": f"demo {tag}"}).json()["projects"]
        assert [p["path"] for p in found] == [f"open-{tag}"]  # searched by description
        table = anon.get("/api/v1/experiments", params={"workspace": ws, "page_size": 500}).json()
        assert shown in {e["id"] for e in table["experiments"]} and table["total"] == len(table["experiments"])
        assert hidden not in {e["id"] for e in table["experiments"]}
        for path in ("", "/scalars?metric=loss&variant=t", "/configuration", "/console"):
            assert anon.get(f"/api/v1/experiments/{shown}{path}").status_code == 200, path
            assert anon.get(f"/api/v1/experiments/{hidden}{path}").status_code == 404, path
        assert anon.get(f"/api/v1/experiments/{shown}/scalars?metric=loss&variant=t").json()["series"]
        assert anon.get("/api/v1/compare", params={"ids": f"{shown},{hidden}"}).status_code == 404
        export = anon.get("/api/v1/export", params={"workspace": ws, "shape": "wide", "format": "jsonl"})
        assert shown in export.text and hidden not in export.text

        # Never a write without a key.
        assert anon.patch(f"/api/v1/experiments/{shown}", json={"name": "x"}).status_code == 401
        assert anon.post(f"/api/v1/experiments/{shown}/archive").status_code == 401
        assert anon.patch(f"/api/v1/projects/open-{tag}", json={"public": False}).status_code == 401
        # A bad key is refused, not treated as anonymous.
        with gateway(stack, key="tl_wrong") as bad:
            assert bad.get(f"/api/v1/experiments/{shown}").status_code == 401

        # Private again: gone for anonymous readers.
        assert admin.patch(f"/api/v1/projects/open-{tag}", json={"public": False}).json()["public"] is False
        assert anon.get(f"/api/v1/experiments/{shown}").status_code == 404
        assert anon.get("/api/v1/projects", params={"workspace": ws}).json()["projects"] == []
