"""Secrets never reach a log. A platform of its own, logging at debug level, is driven with every
kind of credential — the bootstrap key, a member's key (used, rotated, revoked, then tried), wrong
keys, MLflow's bearer and basic auth, a session from a one-time link, an embed token, a report's
share link, the SDK and ingestion's gRPC — and then every log it wrote (each service's, NATS's,
the MongoDB-wire server's) is searched for each of those secrets: none may be there."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc
import httpx
import pytest
from tracklane_proto import ingest_pb2

from tests.conftest import API_KEY, new_id, start_stack
from tests.e2e.helpers import ingest

pytestmark = pytest.mark.engines


def test_no_secret_reaches_any_log(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, TRACKLANE_LOG_LEVEL="debug")
    secrets: dict[str, str] = {"bootstrap key": API_KEY}
    try:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=stack.gateway_url, headers=auth, timeout=30) as gw:
            member = gw.post("/api/v1/keys", json={"name": "ci", "role": "member"}).json()
            secrets["member key"] = member["key"]
            rotated = gw.post(f"/api/v1/keys/{member['id']}/rotate")
            assert rotated.status_code == 200, rotated.text
            secrets["rotated key"] = rotated.json()["key"]
            link = gw.post("/api/v1/session/links").json()["url"].split("#link=", 1)[1]
            secrets["sign-in link"] = link
            report = gw.post("/api/v1/reports", json={"name": "Shared", "project": "secrets"}).json()
            share = gw.post(f"/api/v1/reports/{report['id']}/share", json={"expires_in_days": 1}).json()
            secrets["share token"] = share["token"]

            # the SDK's path: ingestion over gRPC, with the member's key and a wrong one
            exp = new_id()
            stub = ingest(stack)
            key = secrets["rotated key"]
            stub.OpenExperiment(ingest_pb2.OpenExperimentRequest(experiment_id=exp, project="secrets", name="run"),
                                metadata=(("authorization", f"Bearer {key}"),), timeout=30)  # fmt: skip
            wrong = "tl_" + "W" * 43
            secrets["wrong key"] = wrong
            with pytest.raises(grpc.RpcError):
                stub.OpenExperiment(ingest_pb2.OpenExperimentRequest(experiment_id=new_id(), project="s", name="r"),
                                    metadata=(("authorization", f"Bearer {wrong}"),), timeout=30)  # fmt: skip
            embed = gw.get("/api/v1/embeds/code", params={"objects": exp, "type": "scalar", "metrics": "loss"}).json()
            secrets["embed token"] = embed["url"].split("token=", 1)[1].split("&", 1)[0]
            assert httpx.get(embed["url"], timeout=30).status_code == 200

            # a browser's session from the link, then the share link and MLflow's two ways in
            with httpx.Client(base_url=stack.gateway_url, timeout=30) as browser:
                assert browser.post("/api/v1/session", json={"link": link}).status_code == 200
                secrets["session cookie"] = next(iter(browser.cookies.values()))
                assert browser.get("/api/v1/experiments").status_code == 200
                assert browser.get(f"/api/v1/shared/{share['token']}").status_code == 200
            mlflow = "/api/2.0/mlflow/experiments/search"
            assert httpx.get(stack.gateway_url + mlflow, headers={"Authorization": f"Bearer {key}"}).status_code == 200
            basic = base64.b64encode(f"someone:{key}".encode()).decode()
            assert httpx.get(stack.gateway_url + mlflow, headers={"Authorization": f"Basic {basic}"}).status_code == 200
            refused = httpx.get(stack.gateway_url + mlflow, headers={"Authorization": f"Bearer {wrong}"})
            assert refused.status_code == 401

            # the old key after the rotation, and the member's key once revoked, are refused
            assert gw.post(f"/api/v1/keys/{member['id']}/revoke").status_code == 200
            gone = httpx.get(stack.gateway_url + "/api/v1/experiments", headers={"Authorization": f"Bearer {key}"})
            assert gone.status_code == 401
    finally:
        stack.stop()
    logs = sorted((stack.data_dir / "logs").glob("*.log"))
    assert len(logs) >= 7, [p.name for p in logs]  # every service, NATS, the MongoDB-wire server
    assert sum(p.stat().st_size for p in logs) > 10_000  # they did log (debug): the search means something
    for path in logs:
        text = path.read_text(errors="replace")
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} is in {path.name}"
