"""The experiment table through the gateway: filters, sorting, columns, groups, pages."""

from __future__ import annotations

import secrets

import pytest
from tracklane_proto import events_pb2

from devstack import Stack
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, wait_for

pytestmark = pytest.mark.engines

# name: (final loss, best accuracy, completed?)
RUNS = {"r1": (0.50, 0.70, True), "r2": (0.25, 0.80, True), "r3": (0.10, 0.95, False), "r4": (0.40, 0.92, False)}


@pytest.fixture(scope="module")
def table(stack: Stack) -> dict[str, str]:
    project = "table-" + secrets.token_hex(3)
    ids = {}
    for name, (loss, acc, completed) in RUNS.items():
        exp = ids[name] = new_id()
        open_experiment(stack, exp, project=project, name=name)
        points = [("loss", "train", i, loss + (3 - i) * 0.1) for i in range(4)]
        points += [("acc", "val", i, acc - (3 - i) * 0.05) for i in range(4)]
        events = [scalar_event(1, points)]
        if completed:
            status = events_pb2.StatusChanged(status=events_pb2.EXPERIMENT_STATUS_COMPLETED)
            events.append(events_pb2.Event(seq=2, status_changed=status))
        ingest(stack).Append(batch(exp, *events), metadata=AUTH, timeout=10)
    with gateway(stack) as gw:

        def ready() -> bool:
            body = gw.get(
                "/api/v1/experiments", params={"project": project, "filter": "attributes.status = 'completed'"}
            )
            rows = gw.get("/api/v1/experiments", params={"project": project}).json()["experiments"]
            return body.json()["total"] == 2 and all(len(r["metrics"]) == 2 for r in rows) and len(rows) == 4

        wait_for("the table", ready)
        gw.post(f"/api/v1/experiments/{ids['r3']}/tags", json={"add": ["best"]})
    return {"project": project, **ids}


def names(gw: object, table: dict[str, str], **params: str) -> list[str]:
    r = gw.get("/api/v1/experiments", params={"project": table["project"], **params})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    return [e["name"] for e in r.json()["experiments"]]


def test_filters(stack: Stack, table: dict[str, str]) -> None:
    with gateway(stack) as gw:
        assert sorted(names(gw, table, filter="metrics.loss/train < 0.3")) == ["r2", "r3"]
        assert sorted(names(gw, table, filter="metrics.loss/train.max >= 0.7")) == ["r1", "r4"]
        assert sorted(names(gw, table, filter="attributes.status IN ('completed') OR metrics.acc/val > 0.9")) == [
            "r1", "r2", "r3", "r4",
        ]  # fmt: skip
        assert sorted(
            names(
                gw,
                table,
                filter="(attributes.status = 'running' OR metrics.loss/train < 0.3) AND metrics.acc/val < 0.93",
            )
        ) == ["r2", "r4"]
        assert names(gw, table, filter="attributes.tags = 'best'") == ["r3"]
        assert sorted(names(gw, table, filter="attributes.name LIKE 'r_' AND attributes.name != 'r1'")) == [
            "r2",
            "r3",
            "r4",
        ]
        assert sorted(names(gw, table, filter="attributes.duration >= 0")) == ["r1", "r2"]  # ended ones have one
        assert names(gw, table, filter="metrics.nope/none > 0") == []


def test_sort_columns_groups_and_pages(stack: Stack, table: dict[str, str]) -> None:
    with gateway(stack) as gw:
        assert names(gw, table, order_by="metrics.loss/train") == ["r3", "r2", "r4", "r1"]
        assert names(gw, table, order_by="-metrics.acc/val.max") == ["r3", "r4", "r2", "r1"]
        assert names(gw, table, order_by="attributes.name DESC", page="1", page_size="3") == ["r1"]
        r = gw.get(
            "/api/v1/experiments",
            params={"project": table["project"], "order_by": "attributes.name",
                    "columns": "metrics.loss/train.min,metrics.acc/val.last,attributes.status,params.lr"},
        ).json()  # fmt: skip
        first = r["experiments"][0]
        assert first["name"] == "r1" and r["total"] == 4
        assert first["columns"] == {
            "metrics.loss/train.min": pytest.approx(0.5), "metrics.acc/val.last": pytest.approx(0.7),
            "attributes.status": "completed", "params.lr": None,
        }  # fmt: skip
        groups = gw.get(
            "/api/v1/experiments", params={"project": table["project"], "group_by": "attributes.status"}
        ).json()
        assert groups["groups"] == [{"value": "completed", "count": 2}, {"value": "running", "count": 2}]
        gw.post(f"/api/v1/experiments/{table['r2']}/tags", json={"add": ["best", "rerun"]})
        wait_for("r2 tagged", lambda: names(gw, table, filter="attributes.tags = 'rerun'") == ["r2"])
        by_tag = gw.get("/api/v1/experiments", params={"project": table["project"], "group_by": "attributes.tags"})
        # each tag its own group (r2 counts in both of its tags; the untagged runs in none)
        assert by_tag.json()["groups"] == [{"value": "best", "count": 2}, {"value": "rerun", "count": 1}]
        gw.post(f"/api/v1/experiments/{table['r2']}/tags", json={"remove": ["best", "rerun"]})
        wait_for("r2 untagged", lambda: names(gw, table, filter="attributes.tags = 'rerun'") == [])


def test_bad_table_requests(stack: Stack, table: dict[str, str]) -> None:
    with gateway(stack) as gw:
        for params, field, text in [
            ({"filter": "metrics.loss < 'x'"}, "filter", "is a number"),
            ({"filter": "attributes.name = 'a' AND"}, "filter", "at the end"),
            ({"filter": "attributes.name = 'a' ; DROP"}, "filter", "position"),
            ({"order_by": "attributes.nope"}, "order_by", "unknown attribute"),
            ({"columns": "metrics.loss > 1"}, "columns", "not an identifier"),
            ({"group_by": "attributes.status,attributes.user"}, "group_by", "one column"),
            ({"filter": "x" * 5000}, "filter", "at most 4096"),
        ]:
            r = gw.get("/api/v1/experiments", params={"project": table["project"], **params})
            assert r.status_code == 400, (params, r.text)
            error = r.json()["error"]
            assert error["field"] == field and text in error["message"], error


def test_a_filter_cannot_reach_another_workspace(stack: Stack, table: dict[str, str]) -> None:
    with gateway(stack) as gw:
        ws = "filter-" + secrets.token_hex(3)
        key = gw.post("/api/v1/workspaces", json={"id": ws}).json()["admin_key"]["key"]
    with gateway(stack, key=key) as other:
        for f in [
            f"attributes.id = '{table['r1']}'",
            f"attributes.project = '{table['project']}' OR attributes.name LIKE '%'",
        ]:
            assert other.get("/api/v1/experiments", params={"filter": f}).json()["total"] == 0


def test_columns_offer_every_identifier_and_each_reads_back(stack: Stack, table: dict[str, str]) -> None:
    """The column chooser's list: attributes, each metric series, hyperparameters and
    properties, quoted where a name needs it, and every one of them usable in a filter."""
    with gateway(stack) as gw:
        gw.patch(f"/api/v1/experiments/{table['r1']}/properties", json={"set": {"team name": "cv"}})
        gw.patch(f"/api/v1/experiments/{table['r2']}/hyperparameters", json={"section": "Args", "set": {"lr": 0.1}})

        def columns() -> list[str]:
            r = gw.get("/api/v1/columns", params={"project": table["project"]})
            assert r.status_code == 200, r.text
            return list(r.json()["identifiers"])

        wait_for("the new columns", lambda: {"tags.`team name`", "params.Args/lr"} <= set(columns()))
        found = columns()
        assert found[:3] == ["attributes.id", "attributes.name", "attributes.status"]
        assert {"metrics.loss/train", "metrics.acc/val", "attributes.duration"} <= set(found)
        assert sorted(names(gw, table, filter="tags.`team name` = 'cv'")) == ["r1"]
        assert sorted(names(gw, table, filter="params.Args/lr = '0.1'")) == ["r2"]
        every = ",".join(i for i in found if not i.startswith("attributes."))
        r = gw.get("/api/v1/experiments", params={"project": table["project"], "columns": every})
        assert r.status_code == 200, r.text
        other = gw.get("/api/v1/columns", params={"project": "no-such-project-" + table["project"]}).json()
        assert [i for i in other["identifiers"] if not i.startswith("attributes.")] == []
