"""The same work against an MLflow tracking server. Runs inside MLflow's own virtual
environment (bench/run.py creates it), so it imports nothing of Tracklane. Prints JSON."""

from __future__ import annotations

import json
import sys
import time

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient


def ingest(client: MlflowClient, points: int) -> dict[str, float]:
    exp_id = client.create_experiment(f"bench-{time.time_ns()}")
    run = client.create_run(exp_id)
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for first in range(0, points, 1000):  # 1,000 metrics per log_batch call, MLflow's limit
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", 1.0 / (i + 1), now, i) for i in range(first, min(first + 1000, points))],
        )
    elapsed = time.perf_counter() - start
    return {"run_id": run.info.run_id, "points_per_s": points / elapsed, "seconds": elapsed}


def latency(client: MlflowClient, probes: int) -> dict[str, list[float]]:
    exp_id = client.create_experiment(f"bench-lat-{time.time_ns()}")
    run = client.create_run(exp_id)
    samples = []
    for k in range(probes):
        t = time.perf_counter()
        client.log_batch(run.info.run_id, metrics=[Metric("probe", float(k), int(time.time() * 1000), k)])
        while not any(m.step == k for m in client.get_metric_history(run.info.run_id, "probe")):
            time.sleep(0.005)
        samples.append(time.perf_counter() - t)
    return {"samples_s": samples}


def query(client: MlflowClient, run_id: str, repeats: int) -> dict[str, object]:
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        history = client.get_metric_history(run_id, "loss")
        samples.append(time.perf_counter() - t)
    return {"samples_s": samples, "points": len(history)}


if __name__ == "__main__":
    uri, points, probes, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    client = MlflowClient(tracking_uri=uri)
    result: dict[str, object] = {"ingest": ingest(client, points)}
    result["latency"] = latency(client, probes)
    result["query"] = query(client, result["ingest"]["run_id"], repeats)  # type: ignore[index]
    import mlflow

    result["version"] = mlflow.__version__
    print(json.dumps(result), flush=True)
