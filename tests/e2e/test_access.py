"""Workspaces and API keys: isolation in every query, roles, rotation and revocation."""

from __future__ import annotations

import grpc
import pytest
from tracklane_proto import ingest_pb2

from devstack import Stack
from tests.conftest import API_KEY, batch, new_id, scalar_event
from tests.e2e.helpers import gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines


def auth(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


def auth_default() -> tuple[tuple[str, str]]:
    return auth(API_KEY)


def test_a_key_of_one_workspace_reads_and_writes_nothing_of_another(
    stack: Stack, other_workspace: dict[str, str]
) -> None:
    mine = new_id()
    open_experiment(stack, mine, project="private-a")
    ingest(stack).Append(batch(mine, scalar_event(1, [("loss", "t", 0, 1.0)])), metadata=auth_default(), timeout=10)
    with gateway(stack) as gw:
        wait_for("A's experiment", lambda: total_points(gw, mine, "loss", "t") == 1)
        # and its summary: the metadata projection runs beside the metrics one, not after it
        wait_for("A's summary", lambda: gw.get(f"/api/v1/experiments/{mine}").json()["metrics"] != [])
        before = gw.get(f"/api/v1/experiments/{mine}").json()

    b_key = other_workspace["key"]
    with gateway(stack, key=b_key) as b:
        assert b.get("/api/v1/workspaces").json()["workspaces"] == [
            {"id": other_workspace["id"], "name": "Team B", "role": "admin", "user": "admin", "embed_origins": None}
        ]
        assert b.get("/api/v1/experiments").json()["total"] == 0
        assert b.get("/api/v1/experiments", params={"project": "private-a"}).json()["experiments"] == []
        for path in ("", "/scalars"):
            r = b.get(f"/api/v1/experiments/{mine}{path}")
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        charts = b.post(f"/api/v1/experiments/{mine}/scalars/charts", json={"charts": [{"metric": "loss"}]})
        assert charts.status_code == 404 and charts.json()["error"]["code"] == "not_found"
        assert b.patch(f"/api/v1/experiments/{mine}", json={"name": "stolen"}).status_code == 404
        assert b.post(f"/api/v1/experiments/{mine}/archive").status_code == 404
        assert all(k["name"] != "bootstrap" for k in b.get("/api/v1/keys").json()["keys"])

    # Over gRPC: B can neither append to A's experiment nor open A's id under B (ids are global).
    with pytest.raises(grpc.RpcError) as info:
        ingest(stack).Append(batch(mine, scalar_event(1, [("loss", "t", 5, 9.0)])), metadata=auth(b_key), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as info:
        ingest(stack).OpenExperiment(
            ingest_pb2.OpenExperimentRequest(experiment_id=mine, project="hijack", name="x"),
            metadata=auth(b_key),
            timeout=10,
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    assert "belongs to another workspace" in info.value.details()  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as info:  # still nothing to append to
        ingest(stack).Append(batch(mine, scalar_event(1, [("loss", "t", 5, 9.0)])), metadata=auth(b_key), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    with gateway(stack) as gw:
        marker = new_id()  # a later event of A, to know the projections have passed B's events
        open_experiment(stack, marker, project="private-a")
        wait_for("the marker", lambda: gw.get(f"/api/v1/experiments/{marker}").status_code == 200)
        after = gw.get(f"/api/v1/experiments/{mine}").json()
        assert (after["project"], after["name"], after["metrics"]) == (
            before["project"],
            before["name"],
            before["metrics"],
        )
        assert total_points(gw, mine, "loss", "t") == 1
    with gateway(stack, key=b_key) as b:
        assert b.get(f"/api/v1/experiments/{mine}").status_code == 404


def test_keys_are_created_listed_rotated_and_revoked(stack: Stack, other_workspace: dict[str, str]) -> None:
    with gateway(stack, key=other_workspace["key"]) as admin:
        r = admin.post("/api/v1/keys", json={"name": "ci runner", "role": "member"})
        assert r.status_code == 201, r.text
        member = r.json()
        assert member["key"].startswith("tl_") and member["role"] == "member"
        listed = {k["id"]: k for k in admin.get("/api/v1/keys").json()["keys"]}
        assert listed[member["id"]]["name"] == "ci runner" and "key" not in listed[member["id"]]
        assert member["key"] not in admin.get("/api/v1/keys").text

        # The SDK's gRPC path takes the same key.
        exp = new_id()
        ingest(stack).OpenExperiment(
            ingest_pb2.OpenExperimentRequest(experiment_id=exp, project="p", name="n"),
            metadata=auth(member["key"]),
            timeout=10,
        )
        with gateway(stack, key=member["key"]) as m:
            wait_for("the member's experiment", lambda: m.get(f"/api/v1/experiments/{exp}").status_code == 200)
            assert m.post("/api/v1/keys", json={"role": "admin"}).status_code == 403  # never above its own role
            # It sees only keys of its own user no stronger than itself: not the owner's admin key.
            assert [k["id"] for k in m.get("/api/v1/keys").json()["keys"]] == [member["id"]]
            assert m.post(f"/api/v1/keys/{other_workspace['key_id']}/rotate").status_code == 404

        viewer = admin.post("/api/v1/keys", json={"name": "dashboard", "role": "viewer"}).json()
        with gateway(stack, key=viewer["key"]) as v:
            assert v.get(f"/api/v1/experiments/{exp}").status_code == 200
            assert v.post(f"/api/v1/experiments/{exp}/archive").status_code == 403
        with pytest.raises(grpc.RpcError) as refused:  # nor can it log anything through ingestion
            ingest(stack).OpenExperiment(
                ingest_pb2.OpenExperimentRequest(experiment_id=new_id(), project="p", name="n"),
                metadata=auth(viewer["key"]),
                timeout=10,
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]

        rotated = admin.post(f"/api/v1/keys/{member['id']}/rotate").json()
        assert rotated["id"] == member["id"] and rotated["key"] != member["key"]
        with gateway(stack, key=rotated["key"]) as m:
            assert m.get(f"/api/v1/experiments/{exp}").status_code == 200
        with gateway(stack, key=member["key"]) as old:
            assert old.get("/api/v1/experiments").status_code == 401

        assert admin.post(f"/api/v1/keys/{member['id']}/revoke").json() == {"id": member["id"], "revoked": True}
        with gateway(stack, key=rotated["key"]) as m:
            assert m.get("/api/v1/experiments").status_code == 401
        assert {k["id"]: k for k in admin.get("/api/v1/keys").json()["keys"]}[member["id"]]["revoked"] is True

    # Ingestion caches key checks for TRACKLANE_KEY_CACHE_TTL (1 s in these tests).
    def refused() -> bool:
        try:
            ingest(stack).OpenExperiment(
                ingest_pb2.OpenExperimentRequest(experiment_id=new_id(), project="p", name="n"),
                metadata=auth(rotated["key"]), timeout=10,
            )  # fmt: skip
        except grpc.RpcError as exc:
            return exc.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined,no-any-return]
        return False

    wait_for("ingestion to refuse the revoked key", refused, timeout=10)


def test_bad_access_requests(stack: Stack, other_workspace: dict[str, str]) -> None:
    with gateway(stack, key=other_workspace["key"]) as admin:
        for body, field in [({"role": "owner"}, "role"), ({"name": ""}, "name"), ({"name": 3}, "name")]:
            r = admin.post("/api/v1/keys", json=body)
            assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
        for ws in ["A", "x", "-bad", "has space", "workspace"]:
            r = admin.post("/api/v1/workspaces", json={"id": ws})
            assert r.status_code == 400 and r.json()["error"]["field"] == "id"
        assert admin.post("/api/v1/keys/0123456789abcdef/revoke").status_code == 404
        assert admin.post("/api/v1/keys/NOT-AN-ID/rotate").status_code == 404
    # Another workspace's key id is not found either.
    with gateway(stack, key=other_workspace["key"]) as other:
        other_ids = [k["id"] for k in other.get("/api/v1/keys").json()["keys"]]
    with gateway(stack) as default_admin:
        assert default_admin.post(f"/api/v1/keys/{other_ids[0]}/revoke").status_code == 404
