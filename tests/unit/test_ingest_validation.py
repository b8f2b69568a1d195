"""Ingestion refuses bad batches whole, naming the field."""

from __future__ import annotations

import numpy as np
import pytest
from tracklane_proto import events_pb2, ingest_pb2

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
def test_non_finite_values_are_stored_as_reported(value: float) -> None:
    validate_batch(batch(EXP, scalar_event(1, [("loss", "train", 0, 1.0), ("loss", "train", 1, value)])))


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
    bad = scalar_event(2, [("loss", "train", -1, 1.0)])
    assert refused(batch(EXP, good, bad)).field == "events[1].scalars.iterations"


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


def _one(**payload: object) -> ingest_pb2.EventBatch:
    return batch(EXP, events_pb2.Event(seq=1, **payload))  # type: ignore[arg-type]


GOOD_FILE = events_pb2.FileReference(key="artifacts/data/x.csv", size=3, sha256="a" * 64, content_type="text/csv")
CONSOLE = events_pb2.ConsoleLines(
    text=["a", "b"],
    timestamps=np.array([1.0, 2.0], "<f8").tobytes(),
    levels=bytes([2, 4]),
    sources=bytes([1, 2]),
)


def test_every_reporting_payload_passes_when_well_formed() -> None:
    validate_batch(
        batch(
            EXP,
            events_pb2.Event(
                seq=1,
                params_set=events_pb2.ParamsSet(
                    section="General", params=[events_pb2.Param(name="lr", value="0.1", type="float")]
                ),
            ),
            events_pb2.Event(
                seq=2, configuration_set=events_pb2.ConfigurationSet(name="model", text="a: 1", content_type="yaml")
            ),
            events_pb2.Event(seq=3, properties_set=events_pb2.PropertiesSet(set={"team": "cv"})),
            events_pb2.Event(seq=4, execution_reported=events_pb2.ExecutionReported(commit="abc", diff="+x")),
            events_pb2.Event(seq=5, console_lines=CONSOLE),
            events_pb2.Event(
                seq=6,
                plot_reported=events_pb2.PlotReported(
                    metric="m", variant="v", kind="plotly", figure_json='{"data": []}'
                ),
            ),
            events_pb2.Event(
                seq=7,
                debug_sample=events_pb2.DebugSample(
                    metric="m", variant="v", kind="image", file=events_pb2.FileReference(key="debug/m/v/1.png")
                ),
            ),
            events_pb2.Event(
                seq=8, artifact_registered=events_pb2.ArtifactRegistered(name="data", kind="artifact", file=GOOD_FILE)
            ),
            events_pb2.Event(seq=9, experiment_edited=events_pb2.ExperimentEdited(add_tags=["v2"])),
        )
    )


def _console(**changes: object) -> events_pb2.ConsoleLines:
    lines = events_pb2.ConsoleLines()
    lines.CopyFrom(CONSOLE)
    for k, v in changes.items():
        setattr(lines, k, v)
    return lines


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"params_set": events_pb2.ParamsSet(section="")}, "events[0].params_set.section"),
        ({"params_set": events_pb2.ParamsSet(section="G", params=[events_pb2.Param(name="lr", value="x" * 70_000)])},
         "events[0].params_set.params[0].value"),
        ({"configuration_set": events_pb2.ConfigurationSet(name="m", text="", content_type="toml")},
         "events[0].configuration_set.content_type"),
        ({"properties_set": events_pb2.PropertiesSet(set={"": "x"})}, "events[0].properties_set.set['']"),
        ({"execution_reported": events_pb2.ExecutionReported(diff="x" * (512 * 1024 + 1))},
         "events[0].execution_reported.diff"),
        ({"console_lines": _console(levels=bytes([2]))}, "events[0].console_lines.levels"),
        ({"console_lines": _console(levels=bytes([2, 9]))}, "events[0].console_lines.levels"),
        ({"console_lines": _console(sources=bytes([1, 7]))}, "events[0].console_lines.sources"),
        ({"console_lines": events_pb2.ConsoleLines()}, "events[0].console_lines.text"),
        ({"plot_reported": events_pb2.PlotReported(metric="m", variant="v", kind="pie", figure_json="{}")},
         "events[0].plot_reported.kind"),
        ({"plot_reported": events_pb2.PlotReported(metric="m", variant="v", kind="plotly", figure_json="[1]")},
         "events[0].plot_reported.figure_json"),
        ({"plot_reported": events_pb2.PlotReported(metric="m", variant="v", iteration=-1, kind="plotly")},
         "events[0].plot_reported.iteration"),
        ({"debug_sample": events_pb2.DebugSample(metric="m", variant="v", kind="image",
                                                 file=events_pb2.FileReference(key="artifacts/x.png"))},
         "events[0].debug_sample.file.key"),
        ({"artifact_registered": events_pb2.ArtifactRegistered(name="x", kind="artifact",
                                                              file=events_pb2.FileReference(key="/etc/passwd"))},
         "events[0].artifact_registered.file.key"),
        ({"artifact_registered": events_pb2.ArtifactRegistered(name="x", kind="model", file=GOOD_FILE)},
         "events[0].artifact_registered.file.key"),
        ({"artifact_registered": events_pb2.ArtifactRegistered(
            name="x", kind="artifact", file=events_pb2.FileReference(key="artifacts/x", sha256="XYZ"))},
         "events[0].artifact_registered.file.sha256"),
        ({"experiment_edited": events_pb2.ExperimentEdited(archived=True)}, "events[0].experiment_edited.archived"),
        ({"experiment_edited": events_pb2.ExperimentEdited(remove_tags=["a"])},
         "events[0].experiment_edited.remove_tags"),
        ({"stop_requested": events_pb2.StopRequested()}, "events[0].payload"),
        ({"client_alive": events_pb2.ClientAlive()}, "events[0].payload"),
    ],
)  # fmt: skip
def test_bad_reporting_payloads_are_refused(payload: dict[str, object], field: str) -> None:
    assert refused(_one(**payload)).field == field
