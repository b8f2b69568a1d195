"""The metadata projection's rules converge whatever the order and however often events come."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import numpy as np
from tracklane_proto import events_pb2

from services.common.events import ScalarColumns
from services.metadata import domain
from tests.conftest import scalar_event

EXP, WS = "e" * 32, "default"
Change = Callable[[domain.Doc | None], domain.Doc]


def summaries(points: list[tuple[str, str, int, float]]) -> list[domain.SeriesSummary]:
    return domain.summarize(ScalarColumns.decode(scalar_event(1, points).scalars))


CREATED = events_pb2.ExperimentCreated(project="demo", name="first", tags=["b", "a", "b"], user="u", started_at=5.0)
CHANGES: list[Change] = [
    lambda d: domain.apply_created(d, EXP, WS, CREATED, 10.0, 100),
    lambda d: domain.apply_scalars(
        d, EXP, WS, 1, summaries([("loss", "train", 0, 1.0), ("loss", "train", 5, 0.5)]), 11.0
    ),
    lambda d: domain.apply_scalars(
        d, EXP, WS, 2, summaries([("loss", "train", 9, 0.7), ("loss", "train", 7, 0.1)]), 12.0
    ),
    lambda d: domain.apply_status(d, EXP, WS, 3, "completed", "", 13.0),
    # a person's edits, ordered by stream sequence (the creation event was stream seq 100)
    lambda d: domain.apply_edited(d, EXP, WS, events_pb2.ExperimentEdited(name="renamed", add_tags=["c"]), 14.0, 105),
    lambda d: domain.apply_edited(
        d, EXP, WS, events_pb2.ExperimentEdited(name="final", remove_tags=["a"], archived=True), 15.0, 107
    ),
    lambda d: domain.apply_edited(
        d, EXP, WS, events_pb2.ExperimentEdited(description="notes", add_tags=["a"]), 16.0, 106
    ),
]


def run(order: tuple[Change, ...]) -> domain.Doc:
    doc: domain.Doc | None = None
    for change in order:
        doc = change(doc)
    assert doc is not None
    return doc


def test_every_order_and_every_duplicate_gives_the_same_document() -> None:
    expected = run(tuple(CHANGES))
    assert expected["status"] == "completed" and expected["ended_at"] == 13.0
    assert expected["project"] == "demo" and expected["created"]
    # "a" added at 106 but removed at 107: last writer wins whatever order they arrive in
    assert expected["tags"] == ["b", "c"]
    assert (expected["name"], expected["description"], expected["archived"]) == ("final", "notes", True)
    [summary] = domain.metric_summaries(expected)
    assert (summary["min"], summary["max"], summary["last"], summary["last_iteration"]) == (0.1, 1.0, 0.7, 9)
    for order in itertools.permutations(CHANGES):
        assert run(order) == expected
        assert run(order + order) == expected  # redelivered


def test_a_late_running_status_does_not_undo_completion() -> None:
    doc = run(tuple(CHANGES))
    again = domain.apply_status(doc, EXP, WS, 2, "running", "", 14.0)
    assert again["status"] == "completed"


def test_events_of_another_workspace_change_nothing() -> None:
    doc = run(tuple(CHANGES))
    assert domain.apply_created(doc, EXP, "other", CREATED, 20.0, 999) is doc
    assert domain.apply_edited(doc, EXP, "other", events_pb2.ExperimentEdited(name="x"), 20.0, 999) is doc
    assert domain.apply_status(doc, EXP, "other", 99, "failed", "", 20.0) is doc
    assert domain.apply_scalars(doc, EXP, "other", 99, summaries([("loss", "train", 99, -5.0)]), 20.0) is doc


def test_summarize_takes_the_last_point_of_the_greatest_iteration() -> None:
    [s] = summaries([("m", "v", 3, 1.0), ("m", "v", 3, 2.0), ("m", "v", 1, 9.0)])
    assert (s.last, s.last_iteration, s.min, s.max) == (2.0, 3, 1.0, 9.0)
    many = summaries([("a", "x", 0, 1.0), ("b", "y", 0, 2.0)])
    assert {(x.metric, x.variant) for x in many} == {("a", "x"), ("b", "y")}


def test_metric_names_with_dots_and_dollars_are_safe_keys() -> None:
    doc = domain.apply_scalars(None, EXP, WS, 1, summaries([("a.b$c", "x.y", 0, 1.0)]), 1.0)
    for key in doc["metrics"]:
        assert "." not in key and "$" not in key
    assert domain.metric_summaries(doc)[0]["metric"] == "a.b$c"
    assert np.isfinite(domain.metric_summaries(doc)[0]["last"])


def test_key_events_converge_in_any_order() -> None:
    created = events_pb2.KeyCreated(key_id="k1", key_hash="h1", role="member", name="ci")
    rotated = events_pb2.KeyRotated(key_id="k1", key_hash="h2")
    revoked = events_pb2.KeyRevoked(key_id="k1")
    steps: list[Change] = [
        lambda d: domain.apply_key_created(d, WS, created, 1.0, 10),
        lambda d: domain.apply_key_rotated(d, WS, rotated, 2.0, 20),
    ]
    for order in itertools.permutations(steps):
        doc = run(order)
        assert (doc["hash"], doc["role"], doc["created"], doc["revoked"]) == ("h2", "member", True, False)
        revoked_doc = domain.apply_key_revoked(doc, WS, revoked, 3.0, 30)
        assert revoked_doc["revoked"] is True
        # a late rotation does not bring a revoked key back
        assert domain.apply_key_rotated(revoked_doc, WS, rotated, 4.0, 40)["revoked"] is True
    assert domain.apply_key_created(run(tuple(steps)), "other", created, 5.0, 50)["workspace"] == WS


# -- what a script reports besides scalars --------------------------------------------------------
def _params(section: str, remove: tuple[str, ...] = (), **values: str) -> events_pb2.ParamsSet:
    return events_pb2.ParamsSet(
        section=section, params=[events_pb2.Param(name=k, value=v) for k, v in values.items()], remove=remove
    )


REPORTED: list[Change] = [
    lambda d: domain.apply_created(d, EXP, WS, CREATED, 10.0, 100),
    lambda d: domain.apply_params(d, EXP, WS, _params("General", lr="0.1", batch="32"), 101),
    lambda d: domain.apply_params(d, EXP, WS, _params("General", ("batch",), lr="0.01"), 103),
    lambda d: domain.apply_params(d, EXP, WS, _params("General", batch="64"), 102),  # older than the removal
    lambda d: domain.apply_properties(d, EXP, WS, events_pb2.PropertiesSet(set={"team": "cv", "a.b": "x"}), 104),
    lambda d: domain.apply_properties(d, EXP, WS, events_pb2.PropertiesSet(remove=["team"]), 105),
    lambda d: domain.apply_configuration(
        d, EXP, WS, events_pb2.ConfigurationSet(name="model", text="v1", content_type="yaml"), 106
    ),
    lambda d: domain.apply_configuration(
        d, EXP, WS, events_pb2.ConfigurationSet(name="model", text="v2", content_type="yaml"), 107
    ),
    lambda d: domain.apply_artifact(d, EXP, WS, {"name": "data", "kind": "artifact", "key": "artifacts/a/1"}, 108),
    lambda d: domain.apply_artifact(d, EXP, WS, {"name": "data", "kind": "artifact", "key": "artifacts/a/2"}, 109),
    lambda d: domain.apply_artifact(d, EXP, WS, {"name": "data", "kind": "model", "key": "models/a/1"}, 110),
]


def test_reported_details_converge_in_any_order() -> None:
    results = []
    rng = random.Random(7)
    for _ in range(300):
        order = rng.sample(REPORTED, len(REPORTED))
        doc: domain.Doc | None = None
        for change in order:
            doc = change(doc)
        assert doc is not None
        results.append(doc)
    doc = results[0]
    assert all({k: v for k, v in r.items() if k != "version"} == {k: v for k, v in doc.items() if k != "version"}
               for r in results)  # fmt: skip
    [(section, params)] = domain.param_sections(doc)
    assert section == "General" and [(p["name"], p["value"]) for p in params] == [("lr", "0.01")]
    assert domain.live_properties(doc) == {"a.b": "x"}
    assert [c["text"] for c in doc["configurations"].values()] == ["v2"]
    keys = sorted(a["key"] for a in doc["artifacts"].values())
    assert keys == ["artifacts/a/2", "models/a/1"]  # a model and an artifact may share a name


def test_published_experiments_take_no_more_reported_changes() -> None:
    doc = domain.apply_created(None, EXP, WS, CREATED, 10.0, 100)
    doc = domain.apply_params(doc, EXP, WS, _params("General", lr="0.1"), 101)
    doc = domain.apply_edited(doc, EXP, WS, events_pb2.ExperimentEdited(published=True), 11.0, 102)
    after = domain.apply_params(doc, EXP, WS, _params("General", lr="9"), 103)
    after = domain.apply_properties(after, EXP, WS, events_pb2.PropertiesSet(set={"x": "y"}), 104)
    assert domain.param_sections(after)[0][1][0]["value"] == "0.1" and domain.live_properties(after) == {}
    # a change sequenced before the publish still lands, whenever it arrives
    late = domain.apply_params(after, EXP, WS, _params("Args", seed="1"), 101)
    assert [s for s, _ in domain.param_sections(late)] == ["Args", "General"]


def test_non_finite_values_become_text_and_stay_out_of_min_and_max() -> None:
    [s] = summaries([("loss", "t", 0, float("nan")), ("loss", "t", 1, 2.0), ("loss", "t", 2, float("-inf"))])
    assert (s.last, s.min, s.max) == ("-Infinity", 2.0, 2.0)
    [only_nan] = summaries([("m", "v", 0, float("nan"))])
    assert (only_nan.last, only_nan.min, only_nan.max) == ("NaN", None, None)
    doc = domain.apply_scalars(None, EXP, WS, 1, [only_nan], 1.0)
    doc = domain.apply_scalars(doc, EXP, WS, 2, summaries([("m", "v", 1, 3.0)]), 2.0)
    [row] = domain.metric_summaries(doc)
    assert (row["last"], row["min"], row["max"]) == (3.0, 3.0, 3.0)
    assert np.isnan(domain.decode_float("NaN")) and domain.decode_float("-Infinity") == float("-inf")
    assert np.isnan(domain.decode_float(None))


def test_heartbeats_and_stop_requests() -> None:
    doc = domain.apply_created(None, EXP, WS, CREATED, 10.0, 100)
    doc = domain.apply_alive(domain.apply_alive(doc, EXP, WS, 30.0), EXP, WS, 20.0)
    assert doc["last_seen"] == 30.0
    doc = domain.apply_stop_requested(doc, EXP, WS, 101)
    assert doc["stop_requested"]
    other = domain.apply_stop_requested(doc, EXP, "another-workspace", 102)
    assert other is doc  # another workspace's event changes nothing


def test_a_projects_mlflow_lifecycle_converges_in_any_order() -> None:
    """Deleted (archived), the id kept through a rename, and what a rename left behind: each
    field last-writer-wins by stream sequence, whatever order the edits arrive in."""
    edits = [
        (events_pb2.ProjectEdited(project="p", archived=True, mlflow_id="42"), 10),
        (events_pb2.ProjectEdited(project="p", archived=False), 12),
        (events_pb2.ProjectEdited(project="p", renamed_to="q", mlflow_id=""), 11),
        (events_pb2.ProjectEdited(project="p", description="d"), 9),
    ]
    results = []
    for order in itertools.permutations(edits):
        doc = None
        for edit, seq in order:
            doc = domain.apply_project_edited(doc, WS, edit, 1.0, seq)
            doc = domain.apply_project_edited(doc, WS, edit, 1.0, seq)  # and once more: idempotent
        assert doc is not None
        results.append({k: doc[k] for k in ("archived", "mlflow_id", "renamed_to", "description")})
    assert all(r == results[0] for r in results)
    assert results[0] == {"archived": False, "mlflow_id": "", "renamed_to": "q", "description": "d"}
