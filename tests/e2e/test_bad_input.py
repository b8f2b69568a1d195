"""Bad input is refused with INVALID_ARGUMENT naming the field, and nothing of it lands."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from tracklane_proto import events_pb2, ingest_pb2

from devstack import Stack
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines


def refused(stack: Stack, b: ingest_pb2.EventBatch) -> str:
    with pytest.raises(grpc.RpcError) as info:
        ingest(stack).Append(b, metadata=AUTH, timeout=10)
    err = info.value
    assert isinstance(err, grpc.Call)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    trailing = dict(err.trailing_metadata() or ())
    assert err.details().startswith(trailing["tl-field"])
    return str(trailing["tl-field"])


def test_bad_batches_are_refused_whole(stack: Stack) -> None:
    exp = new_id()
    open_experiment(stack, exp)
    good = scalar_event(1, [("good", "train", 0, 1.0)])

    def with_bad(points: list[tuple[str, str, int, float]]) -> ingest_pb2.EventBatch:
        return batch(exp, good, scalar_event(2, points))

    bad_plot = events_pb2.Event(
        seq=2, plot_reported=events_pb2.PlotReported(metric="p", variant="v", kind="plotly", figure_json="{oops")
    )
    assert refused(stack, batch(exp, good, bad_plot)) == "events[1].plot_reported.figure_json"
    rename = events_pb2.Event(seq=2, experiment_edited=events_pb2.ExperimentEdited(name="sneaky"))
    assert refused(stack, batch(exp, good, rename)) == "events[1].experiment_edited.name"
    outside = events_pb2.Event(
        seq=2,
        artifact_registered=events_pb2.ArtifactRegistered(
            name="a", kind="artifact", file=events_pb2.FileReference(key="artifacts/../../other/x")
        ),
    )
    assert refused(stack, batch(exp, good, outside)) == "events[1].artifact_registered.file.key"
    assert refused(stack, with_bad([("", "t", 0, 1.0)])) == "events[1].scalars.series[0].metric"
    assert refused(stack, with_bad([("x" * 10_240, "t", 0, 1.0)])) == "events[1].scalars.series[0].metric"
    assert refused(stack, with_bad([("loss", "t", -3, 1.0)])) == "events[1].scalars.iterations"
    huge = scalar_event(2, [("loss", "t", 0, 1.0)])
    huge.scalars.iterations = np.array([2**63 + 1], dtype="<u8").tobytes()
    assert refused(stack, batch(exp, good, huge)) == "events[1].scalars.iterations"
    malformed = scalar_event(2, [("loss", "t", 0, 1.0), ("loss", "t", 1, 1.0)])
    malformed.scalars.values = malformed.scalars.values[:12]
    assert refused(stack, batch(exp, good, malformed)) == "events[1].scalars.values"
    assert refused(stack, batch(new_id(), good)) == "experiment_id"  # never opened

    # Not even the good first event of those batches was published: a later good batch lands
    # alone, and "good" has just its one point.
    ingest(stack).Append(batch(exp, scalar_event(3, [("good", "train", 1, 2.0)])), metadata=AUTH, timeout=10)
    with gateway(stack) as gw:
        wait_for("the later batch", lambda: total_points(gw, exp, "good", "train") == 1)
        names = [s["metric"] for s in gw.get(f"/api/v1/experiments/{exp}/scalars").json()["series"]]
        assert names == ["good"]


def test_a_malformed_message_is_refused(stack: Stack) -> None:
    channel = grpc.insecure_channel(stack.ingestion_addr)
    append = channel.unary_unary("/tracklane.v1.IngestService/Append")
    with pytest.raises(grpc.RpcError) as info:
        append(b"\xff\xff\xff\xff garbage", metadata=AUTH, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "malformed" in info.value.details()  # type: ignore[attr-defined]
    stream = channel.stream_stream("/tracklane.v1.IngestService/Stream")
    with pytest.raises(grpc.RpcError) as info:
        list(stream(iter([b"\xff\xff\xff\xff garbage"]), metadata=AUTH, timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    channel.close()


def test_a_wrong_key_is_unauthenticated(stack: Stack) -> None:
    with pytest.raises(grpc.RpcError) as info:
        ingest(stack).OpenExperiment(
            ingest_pb2.OpenExperimentRequest(experiment_id=new_id(), project="p", name="n"),
            metadata=(("authorization", "Bearer tl_nope"),),
            timeout=10,
        )
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


def test_the_stream_rejects_a_bad_batch_and_goes_on(stack: Stack) -> None:
    exp = new_id()
    open_experiment(stack, exp)
    messages = [
        ingest_pb2.ClientMessage(batch=batch(exp, scalar_event(1, [("m", "v", -1, 1.0)]))),
        ingest_pb2.ClientMessage(batch=batch(exp, scalar_event(2, [("m", "v", 0, 1.0)]))),
    ]
    replies = list(ingest(stack).Stream(iter(messages), metadata=AUTH, timeout=20))
    rejected, ack = replies
    assert rejected.WhichOneof("msg") == "rejected"
    assert rejected.rejected.code == "INVALID_ARGUMENT" and rejected.rejected.field == "events[0].scalars.iterations"
    assert ack.WhichOneof("msg") == "ack" and ack.ack.last_seq == 2


def test_gateway_parameters_are_checked(stack: Stack) -> None:
    exp = new_id()
    open_experiment(stack, exp)
    with gateway(stack) as gw:
        wait_for("the experiment", lambda: gw.get(f"/api/v1/experiments/{exp}").status_code == 200)
        for params, field in [
            ({"samples": "0"}, "samples"),
            ({"samples": "many"}, "samples"),
            ({"xaxis": "days"}, "xaxis"),
            ({"x_min": "nan"}, "x_min"),
            ({"samples": "1", "page": "x"}, None),  # an undeclared parameter is ignored …
        ]:
            r = gw.get(f"/api/v1/experiments/{exp}/scalars", params=params)
            if field is None:
                assert r.status_code == 200, r.text  # … as HTTP expects
                continue
            assert r.status_code == 400, params
            assert r.json()["error"]["field"] == field
        # a zoom given backwards (a drag from right to left) is the same range
        forwards = gw.get(f"/api/v1/experiments/{exp}/scalars", params={"x_min": "1", "x_max": "5"}).json()
        backwards = gw.get(f"/api/v1/experiments/{exp}/scalars", params={"x_min": "5", "x_max": "1"}).json()
        assert forwards == backwards
