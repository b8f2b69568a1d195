"""Load generators, each run as its own process by bench.run (``python -m bench.workers KIND …``)
so that clients compete for the cores the way separate training jobs would. Each prints one JSON
line with what it measured."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import grpc
import numpy as np
import tracklane
from tracklane_proto import events_pb2, ingest_pb2, ingest_pb2_grpc


def sdk_log(server: str, key: str, points: int, project: str) -> dict[str, object]:
    """Logs ``points`` scalars through the SDK as fast as one thread can; waits for the acks."""
    exp = tracklane.init(project=project, name="throughput", server=server, api_key=key)
    start = time.perf_counter()
    for i in range(points):
        exp.log_scalar("loss", "train", 1.0 / (i + 1), i)
    logged = time.perf_counter()
    exp.close()
    return {"experiment": exp.id, "log_s": logged - start, "acked_s": time.perf_counter() - start}


def raw_grpc(server: str, key: str, points: int, project: str, per_batch: int = 25_000) -> dict[str, object]:
    """The gRPC batch path without the SDK: pre-built columnar batches through unary Append."""
    import uuid

    auth = (("authorization", f"Bearer {key}"),)
    stub = ingest_pb2_grpc.IngestServiceStub(grpc.insecure_channel(server))
    exp = uuid.uuid4().hex
    stub.OpenExperiment(ingest_pb2.OpenExperimentRequest(experiment_id=exp, project=project, name="raw"), metadata=auth)
    batches = []
    for seq, start in enumerate(range(0, points, per_batch), start=1):
        n = min(per_batch, points - start)
        it = np.arange(start, start + n, dtype="<i8")
        batches.append(
            ingest_pb2.EventBatch(
                experiment_id=exp,
                events=[
                    events_pb2.Event(
                        seq=seq,
                        client_time=time.time(),
                        scalars=events_pb2.ScalarBatch(
                            series=[events_pb2.SeriesKey(metric="loss", variant="train")],
                            series_index=np.zeros(n, dtype="<u4").tobytes(),
                            iterations=it.tobytes(),
                            values=(1.0 / (it + 1)).astype("<f8").tobytes(),
                            timestamps=np.full(n, time.time(), dtype="<f8").tobytes(),
                        ),
                    )
                ],
            )
        )
    start_t = time.perf_counter()
    for b in batches:
        stub.Append(b, metadata=auth, timeout=60)
    return {"experiment": exp, "acked_s": time.perf_counter() - start_t}


def many_series(server: str, key: str, metrics: int, variants: int, points: int, project: str) -> dict[str, object]:
    """One experiment with ``metrics`` x ``variants`` series of ``points`` each (a Scalars tab
    full of charts), in columnar batches of every series at once."""
    import uuid

    auth = (("authorization", f"Bearer {key}"),)
    stub = ingest_pb2_grpc.IngestServiceStub(grpc.insecure_channel(server))
    exp = uuid.uuid4().hex
    stub.OpenExperiment(
        ingest_pb2.OpenExperimentRequest(experiment_id=exp, project=project, name="charts"), metadata=auth
    )
    keys = [
        events_pb2.SeriesKey(metric=f"metric_{m:02d}", variant=f"v{v}") for m in range(metrics) for v in range(variants)
    ]
    step = max(1, 200_000 // len(keys))  # iterations per batch: about 200k points
    rng = np.random.default_rng(5)
    for seq, start in enumerate(range(0, points, step), start=1):
        n = min(step, points - start)
        its = np.tile(np.arange(start, start + n, dtype="<i8"), len(keys))
        index = np.repeat(np.arange(len(keys), dtype="<u4"), n)
        values = np.sin(its / 300.0 + index) + rng.normal(0, 0.1, its.size)
        batch = events_pb2.ScalarBatch(series=keys, series_index=index.tobytes(), iterations=its.tobytes(),
                                       values=values.astype("<f8").tobytes(),
                                       timestamps=np.full(its.size, time.time(), dtype="<f8").tobytes())  # fmt: skip
        event = events_pb2.Event(seq=seq, client_time=time.time(), scalars=batch)
        stub.Append(ingest_pb2.EventBatch(experiment_id=exp, events=[event]), metadata=auth, timeout=60)
    return {"experiment": exp}


def steady(server: str, key: str, rate: int, seconds: float, project: str) -> dict[str, object]:
    """Logs at ``rate`` points/s for ``seconds`` (background load for the latency probe)."""
    exp = tracklane.init(project=project, name="steady", server=server, api_key=key)
    start = time.perf_counter()
    i = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        target = int(elapsed * rate)
        while i < target:
            exp.log_scalar("load", "train", float(i), i)
            i += 1
        time.sleep(0.005)
    exp.close()
    return {"experiment": exp.id, "points": i}


def sdk_overhead(server: str, key: str, calls: int) -> dict[str, object]:
    """log_scalar calls/s from one thread (the server may be up, slow or down)."""
    with tempfile.TemporaryDirectory() as cache:  # what a down server leaves unsent goes here
        os.environ["TRACKLANE_CACHE_DIR"] = cache
        exp = tracklane.init(project="bench-overhead", name="overhead", server=server, api_key=key)
        exp.flush_timeout = 1.0
        start = time.perf_counter()
        for i in range(calls):
            exp.log_scalar("loss", "train", 0.5, i)
        elapsed = time.perf_counter() - start
        exp.close()
    return {"calls_per_s": calls / elapsed}


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    fn = {"sdk_log": sdk_log, "raw_grpc": raw_grpc, "many_series": many_series, "steady": steady,
          "sdk_overhead": sdk_overhead}[kind]  # fmt: skip
    typed = [int(a) if a.isdigit() else (float(a) if a.replace(".", "", 1).isdigit() else a) for a in args]
    print(json.dumps(fn(*typed)), flush=True)  # type: ignore[operator]
