"""Commands through the gateway become events on the log and answer with what they changed."""

from __future__ import annotations

import asyncio

import nats
import pytest

from devstack import Stack
from gateway.errors import ApiError
from gateway.usecases.command_log import require_writer
from services.common.auth import Principal
from tests.conftest import new_id
from tests.e2e.helpers import gateway, open_experiment, wait_for

pytestmark = pytest.mark.engines


@pytest.fixture
def experiment(stack: Stack) -> str:
    exp = new_id()
    open_experiment(stack, exp, project="commands", name="original")
    with gateway(stack) as gw:
        wait_for("the experiment", lambda: gw.get(f"/api/v1/experiments/{exp}").status_code == 200)
    return exp


def test_edits_answer_with_the_new_state_and_are_events(stack: Stack, experiment: str) -> None:
    url = f"/api/v1/experiments/{experiment}"
    with gateway(stack) as gw:
        r = gw.patch(url, json={"name": "renamed", "description": "lr sweep, run 3"})
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.json()["description"]) == ("renamed", "lr sweep, run 3")

        r = gw.post(f"{url}/tags", json={"add": ["cv", "baseline", "a.b$c"]})
        assert r.json()["tags"] == ["a.b$c", "baseline", "cv"]
        r = gw.post(f"{url}/tags", json={"remove": ["baseline"]})
        assert r.json()["tags"] == ["a.b$c", "cv"]

        assert gw.post(f"{url}/archive").json()["archived"] is True
        active = gw.get("/api/v1/experiments", params={"project": "commands"}).json()["experiments"]
        archived = gw.get("/api/v1/experiments", params={"project": "commands", "archived": "true"}).json()[
            "experiments"
        ]
        assert experiment not in [e["id"] for e in active] and experiment in [e["id"] for e in archived]
        assert gw.post(f"{url}/restore").json()["archived"] is False
        assert experiment in [
            e["id"] for e in gw.get("/api/v1/experiments", params={"project": "commands"}).json()["experiments"]
        ]

    async def edits_on_the_log() -> int:
        nc = await nats.connect(stack.nats_url)
        try:
            sub = await nc.jetstream().subscribe(f"tl.ev.*.{experiment}.edit", ordered_consumer=True)
            count = 0
            while True:
                msg = await sub.next_msg(timeout=5)
                count += 1
                if msg.metadata.num_pending == 0:
                    return count
        finally:
            await nc.close()

    assert asyncio.run(edits_on_the_log()) == 5


def test_a_retried_command_with_the_same_idempotency_key_applies_once(stack: Stack, experiment: str) -> None:
    url = f"/api/v1/experiments/{experiment}/tags"
    with gateway(stack) as gw:
        first = gw.post(url, json={"add": ["flaky"]}, headers={"Idempotency-Key": "add-flaky-0001"})
        assert first.json()["tags"] == ["flaky"]
        assert gw.post(url, json={"remove": ["flaky"]}).json()["tags"] == []
        # The client retries the first request (say its answer was lost): nothing changes.
        retry = gw.post(url, json={"add": ["flaky"]}, headers={"Idempotency-Key": "add-flaky-0001"})
        assert retry.status_code == 200 and retry.json()["tags"] == []


@pytest.mark.parametrize(
    ("method", "suffix", "body", "field"),
    [
        ("PATCH", "", {"name": ""}, "name"),
        ("PATCH", "", {"name": "x" * 256}, "name"),
        ("PATCH", "", {"name": 5}, "name"),
        ("PATCH", "", {"status": "completed"}, "status"),
        ("PATCH", "", {}, "body"),
        ("PATCH", "", [1, 2], "body"),
        ("POST", "/tags", {"add": "cv"}, "add"),
        ("POST", "/tags", {"add": ["ok", "bad\ntag"]}, "add[1]"),
        ("POST", "/tags", {}, "body"),
    ],
)
def test_bad_commands_are_refused_and_change_nothing(
    stack: Stack, experiment: str, method: str, suffix: str, body: object, field: str
) -> None:
    url = f"/api/v1/experiments/{experiment}"
    with gateway(stack) as gw:
        before = gw.get(url).json()
        r = gw.request(method, url + suffix, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["field"] == field
        assert gw.get(url).json() == before


def test_commands_on_missing_experiments_and_bad_json(stack: Stack, experiment: str) -> None:
    with gateway(stack) as gw:
        assert gw.post(f"/api/v1/experiments/{new_id()}/archive").status_code == 404
        r = gw.patch(
            f"/api/v1/experiments/{experiment}", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["error"]["field"] == "body"
        r = gw.post(f"/api/v1/experiments/{experiment}/archive", headers={"Idempotency-Key": "no spaces!"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "Idempotency-Key"
    with gateway(stack, key=None) as anonymous:
        assert anonymous.post(f"/api/v1/experiments/{experiment}/archive").status_code == 401


def test_viewers_cannot_write() -> None:
    with pytest.raises(ApiError) as info:
        require_writer(Principal("ws", "viewer", "k1"))
    assert info.value.status == 403
    require_writer(Principal("ws", "member", "k2"))


def test_move_creates_the_project_on_the_fly(stack: Stack, experiment: str) -> None:
    target = "moved/" + new_id()[:8]
    with gateway(stack) as gw:
        r = gw.post(f"/api/v1/experiments/{experiment}/move", json={"project": target})
        assert r.status_code == 200 and r.json()["project"] == target
        assert [e["id"] for e in gw.get("/api/v1/experiments", params={"project": target}).json()["experiments"]] == [
            experiment
        ]
        paths = [p["path"] for p in gw.get("/api/v1/projects", params={"search": target}).json()["projects"]]
        assert paths == [target]
        assert gw.post(f"/api/v1/experiments/{experiment}/move", json={"project": "a//b"}).json()["error"]["field"] == (
            "project"
        )


def test_published_experiments_refuse_edits(stack: Stack, experiment: str) -> None:
    url = f"/api/v1/experiments/{experiment}"
    with gateway(stack) as gw:
        assert gw.post(f"{url}/publish").json()["published"] is True
        r = gw.patch(url, json={"name": "changed"})
        assert r.status_code == 409 and "published" in r.json()["error"]["message"]
        assert gw.get(url).json()["name"] == "original"
        assert gw.post(f"{url}/tags", json={"add": ["released"]}).json()["tags"] == ["released"]  # tags still work


def test_soft_delete_restore_and_clear(stack: Stack, experiment: str) -> None:
    from tests.conftest import batch, scalar_event
    from tests.e2e.helpers import AUTH, ingest, total_points

    url = f"/api/v1/experiments/{experiment}"
    ingest(stack).Append(batch(experiment, scalar_event(1, [("loss", "t", 0, 1.0)])), metadata=AUTH, timeout=10)
    with gateway(stack) as gw:
        wait_for("the point", lambda: total_points(gw, experiment, "loss", "t") == 1)
        r = gw.post(f"{url}/delete")
        assert r.status_code == 409 and "archive it first" in r.json()["error"]["message"]
        assert gw.post(f"{url}/clear").status_code == 409  # not deleted

        gw.post(f"{url}/archive")
        assert gw.post(f"{url}/delete").json()["deleted"] is True
        assert experiment not in [
            e["id"] for e in gw.get("/api/v1/experiments", params={"archived": "true"}).json()["experiments"]
        ]
        assert experiment in [
            e["id"] for e in gw.get("/api/v1/experiments", params={"deleted": "true"}).json()["experiments"]
        ]
        restored = gw.post(f"{url}/restore").json()
        assert (restored["deleted"], restored["archived"]) == (False, True)  # back to the archive

        gw.post(f"{url}/delete")
        assert gw.post(f"{url}/clear").json() == {"id": experiment, "cleared": True}
        assert gw.get(url).status_code == 404
        assert experiment not in [
            e["id"] for e in gw.get("/api/v1/experiments", params={"deleted": "true"}).json()["experiments"]
        ]

    # Its metrics are gone from ClickHouse too, and ingestion takes nothing more for it.
    import grpc as grpc_mod
    from tracklane_proto import metrics_pb2, metrics_pb2_grpc

    with grpc_mod.insecure_channel(f"127.0.0.1:{stack.ports.metrics}") as channel:
        metrics = metrics_pb2_grpc.MetricsServiceStub(channel)
        wait_for(
            "the rows to go",
            lambda: (
                not metrics.ListSeries(
                    metrics_pb2.ListSeriesRequest(workspace="default", experiment_id=experiment), timeout=10
                ).series
            ),
        )
    with pytest.raises(grpc_mod.RpcError) as info:
        ingest(stack).Append(batch(experiment, scalar_event(2, [("loss", "t", 1, 1.0)])), metadata=AUTH, timeout=10)
    assert info.value.code() == grpc_mod.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]


def test_bulk_commands_report_each_experiment(stack: Stack) -> None:
    ids = [new_id() for _ in range(3)]
    for exp in ids:
        open_experiment(stack, exp, project="bulk")
    with gateway(stack) as gw:
        for exp in ids:
            wait_for("the experiment", lambda exp=exp: gw.get(f"/api/v1/experiments/{exp}").status_code == 200)
        r = gw.post("/api/v1/experiments/bulk", json={"ids": [*ids[:2], new_id()], "action": "tags", "add": ["x"]})
        assert r.status_code == 200 and r.json()["applied"]
        assert [x["status"] for x in r.json()["results"]] == [200, 200, 404]
        assert [gw.get(f"/api/v1/experiments/{e}").json()["tags"] for e in ids] == [["x"], ["x"], []]
        # delete needs archived ones: the unarchived one answers 409 and changes nothing
        gw.post("/api/v1/experiments/bulk", json={"ids": ids[:2], "action": "archive"})
        r = gw.post("/api/v1/experiments/bulk", json={"ids": ids, "action": "delete"})
        assert [x["status"] for x in r.json()["results"]] == [200, 200, 409]
        deleted = gw.get("/api/v1/experiments", params={"deleted": "true", "project": "bulk"}).json()["experiments"]
        assert sorted(e["id"] for e in deleted) == sorted(ids[:2])
        r = gw.post("/api/v1/experiments/bulk", json={"ids": ids, "action": "move", "project": "bulk/done"})
        assert all(x["status"] == 200 for x in r.json()["results"])
        assert gw.get(f"/api/v1/experiments/{ids[2]}").json()["project"] == "bulk/done"
        for bad, field in (
            ({"ids": [], "action": "archive"}, "ids"),
            ({"ids": ids, "action": "explode"}, "action"),
            ({"ids": ids, "action": "move"}, "project"),
            ({"ids": ids * 200, "action": "archive"}, "ids"),
        ):
            r = gw.post("/api/v1/experiments/bulk", json=bad)
            assert r.status_code == 400 and r.json()["error"]["field"] == field, (bad, r.text)  # fmt: skip
