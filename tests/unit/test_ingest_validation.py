"""Ingestion refuses bad batches whole, naming the field."""

from __future__ import annotations

import numpy as np
import pytest
from tracklane.pb import events_pb2, ingest_pb2

from services.ingestion.domain import ValidationError, validate_batch, validate_open
from tests.conftest import batch, new_id, scalar_event

EXP = new_id()


def refused(b: ingest_pb2.EventBatch) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_batch(b)
    return info.value


def test_a_good_batch_passes() -> None:
    validate_batch(batch(EXP, scalar_event(1, [("loss", "train", 0, 0.5), ("acc", "val", 0, 0.9)])))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_refused(value: float) -> None:
    err = refused(batch(EXP, scalar_event(1, [("loss", "train", 0, 1.0), ("loss", "train", 1, value)])))
    assert err.field == "events[0].scalars.values"
    assert "point 1" in err.reason


@pytest.mark.parametrize(("name", "reason"), [("", "empty"), ("x" * 10_000, "limit is 255"), ("a\nb", "control")])
def test_bad_metric_names_are_refused(name: str, reason: str) -> None:
    err = refused(batch(EXP, scalar_event(1, [(name, "train", 0, 1.0)])))
    assert err.field == "events[0].scalars.series[0].metric"
    assert reason in err.reason


def test_bad_variant_name_is_refused() -> None:
    err = refused(batch(EXP, scalar_event(1, [("loss", "v" * 256, 0, 1.0)])))
    assert err.field == "events[0].scalars.series[0].variant"


def test_negative_iteration_is_refused() -> None:
    err = refused(batch(EXP, scalar_event(1, [("loss", "train", -1, 1.0)])))
    assert err.field == "events[0].scalars.iterations"


def test_iteration_beyond_int64_is_refused() -> None:
    # 2**63 + 5 does not fit a signed 64-bit iteration; on the wire it reads as negative.
    event = scalar_event(1, [("loss", "train", 0, 1.0)])
    event.scalars.iterations = np.array([2**63 + 5], dtype="<u8").tobytes()
    assert refused(batch(EXP, event)).field == "events[0].scalars.iterations"


def test_malformed_columns_are_refused() -> None:
    event = scalar_event(1, [("loss", "train", 0, 1.0), ("loss", "train", 1, 2.0)])
    event.scalars.iterations = event.scalars.iterations[:8]
    err = refused(batch(EXP, event))
    assert err.field == "events[0].scalars.iterations"
    event = scalar_event(1, [("loss", "train", 0, 1.0)])
    event.scalars.values = b"\x00" * 7
    assert refused(batch(EXP, event)).field == "events[0].scalars.values"


def test_series_index_out_of_range_is_refused() -> None:
    event = scalar_event(1, [("loss", "train", 0, 1.0)])
    event.scalars.series_index = np.array([3], dtype="<u4").tobytes()
    assert refused(batch(EXP, event)).field == "events[0].scalars.series_index"


def test_bad_experiment_ids_and_sequences_are_refused() -> None:
    assert refused(batch("not-an-id", scalar_event(1, [("l", "t", 0, 1.0)]))).field == "experiment_id"
    assert refused(batch(EXP)).field == "events"
    e1, e2 = scalar_event(2, [("l", "t", 0, 1.0)]), scalar_event(2, [("l", "t", 1, 1.0)])
    assert refused(batch(EXP, e1, e2)).field == "events[1].seq"
    assert refused(batch(EXP, events_pb2.Event(seq=1))).field == "events[0].payload"
    created = events_pb2.Event(seq=1, experiment_created=events_pb2.ExperimentCreated(project="p", name="n"))
    assert refused(batch(EXP, created)).field == "events[0].payload"


def test_the_error_of_a_later_event_names_it() -> None:
    good = scalar_event(1, [("loss", "train", 0, 1.0)])
    bad = scalar_event(2, [("loss", "train", 1, float("nan"))])
    assert refused(batch(EXP, good, bad)).field == "events[1].scalars.values"


def test_open_request_validation() -> None:
    ok = ingest_pb2.OpenExperimentRequest(experiment_id=EXP, project="vision/resnet", name="baseline", tags=["v1"])
    validate_open(ok)
    for change, field in [
        ({"project": ""}, "project"),
        ({"project": "a//b"}, "project"),
        ({"name": ""}, "name"),
        ({"experiment_id": "XYZ"}, "experiment_id"),
        ({"tags": ["ok", ""]}, "tags[1]"),
        ({"started_at": float("nan")}, "started_at"),
    ]:
        req = ingest_pb2.OpenExperimentRequest()
        req.CopyFrom(ok)
        for k, v in change.items():
            if k == "tags":
                del req.tags[:]
                req.tags.extend(v)  # type: ignore[arg-type]
            else:
                setattr(req, k, v)
        with pytest.raises(ValidationError) as info:
            validate_open(req)
        assert info.value.field == field
