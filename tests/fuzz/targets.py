"""Coverage-guided fuzz targets (atheris, on libFuzzer) for the code that reads what outsiders
write: the query language (to MongoDB filters and to the experiment table's SQL), MLflow's filter
language, and the event decoders behind ingestion's validation.

Each target takes bytes and may refuse them only with the error its callers turn into a clear
4xx / INVALID_ARGUMENT; any other exception is a crash. ``python -m tests.fuzz.targets NAME
[libFuzzer flags]`` runs one (``make fuzz`` runs each for long; ``make test`` runs each briefly
through tests/unit/test_fuzz_targets.py, which also replays every input in
``tests/fuzz/regressions/<name>/``: a crash found becomes one of those files)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports():
    from google.protobuf.message import DecodeError
    from tracklane_proto import events_pb2, ingest_pb2

    from gateway.mlflow import search
    from services.common.contract import ValidationError
    from services.common.events import ConsoleColumns, ScalarColumns, parse
    from services.ingestion.domain import validate_batch
    from services.metadata import query, table


def _text(data: bytes) -> str:
    return atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))


def query_language(data: bytes) -> None:
    """A filter, an order and columns of the query language, to MongoDB and to SQL."""
    text = _text(data)
    try:
        where = query.compile_filter(text)
        table.Sql().condition(table.TableQuery(workspace="w", where=where))
    except query.QueryError:
        pass
    with contextlib.suppress(query.QueryError):
        table.Sql().order(query.compile_order(text))
    with contextlib.suppress(query.QueryError):
        query.compile_columns(text, "columns")


def mlflow_search(data: bytes) -> None:
    """MLflow's run filter and order, as the gateway translates them."""
    text = _text(data)
    # what it makes goes to the query language, which refuses what it cannot read (a 400 too)
    with contextlib.suppress(search.SearchError, query.QueryError):
        out = search.translate_filter(text)
        if out.strip():
            query.compile_filter(out)
    with contextlib.suppress(search.SearchError):
        search.translate_order([text])


def event_batch(data: bytes) -> None:
    """A client's batch: decoded, validated; what validation lets through decodes cleanly."""
    try:
        batch = ingest_pb2.EventBatch.FromString(data)
    except DecodeError:
        return
    try:
        validate_batch(batch)
    except ValidationError:
        return
    for event in batch.events:
        kind = event.WhichOneof("payload")
        if kind == "scalars":
            ScalarColumns.decode(event.scalars)
        elif kind == "console_lines":
            ConsoleColumns.decode(event.console_lines)


def log_event(data: bytes) -> None:
    """An event read from the log (what a projection gets)."""
    try:
        event = parse(data)
    except (DecodeError, ValueError, KeyError):
        return
    assert isinstance(event, events_pb2.Event)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "query_language": query_language,
    "mlflow_search": mlflow_search,
    "event_batch": event_batch,
    "log_event": log_event,
}


def _batch_seeds() -> list[bytes]:
    """Valid client batches, one per kind a client sends (and one with them all): libFuzzer gets
    no coverage from inside protobuf's C parser, so from random bytes it would seldom build a
    message that reaches the validation and the decoders; it mutates these instead."""
    import struct

    exp = "0123456789abcdef0123456789abcdef"
    scalars = events_pb2.ScalarBatch(
        series=[events_pb2.SeriesKey(metric=m, variant=v) for m, v in (("loss", "train"), ("acc", "val"))],
        series_index=struct.pack("<3I", 0, 1, 0),
        iterations=struct.pack("<3q", 0, 0, 1),
        values=struct.pack("<3d", 0.5, float("nan"), 0.25),
        timestamps=struct.pack("<3d", 1.7e9, 1.7e9, 1.7e9 + 1),
    )
    console = events_pb2.ConsoleLines(
        text=["epoch 1", "\x1b[31mred\x1b[0m"],
        timestamps=struct.pack("<2d", 1.7e9, 1.7e9),
        levels=bytes([2, 4]),
        sources=bytes([0, 1]),
    )
    payloads = [
        {"scalars": scalars},
        {"console_lines": console},
        {"status_changed": events_pb2.StatusChanged(status=events_pb2.EXPERIMENT_STATUS_COMPLETED, at=1.7e9)},
        {
            "params_set": events_pb2.ParamsSet(
                section="General", params=[events_pb2.Param(name="lr", value="0.1", type="float")]
            )
        },
        {"configuration_set": events_pb2.ConfigurationSet(name="model", text="a: 1", content_type="yaml")},
        {"properties_set": events_pb2.PropertiesSet(set={"team": "cv"}, remove=["old"])},
        {
            "execution_reported": events_pb2.ExecutionReported(
                repository="https://x/y.git", commit="abc", entry_point="train.py", python="3.11"
            )
        },
        {
            "plot_reported": events_pb2.PlotReported(
                metric="roc",
                variant="val",
                iteration=1,
                kind="plotly",
                figure_json='{"data": [{"x": [1], "y": [2]}], "layout": {}}',
            )
        },
        {"experiment_edited": events_pb2.ExperimentEdited(add_tags=["baseline"])},
    ]
    events = [events_pb2.Event(seq=i + 1, client_time=1.7e9, **p) for i, p in enumerate(payloads)]
    one_each = [ingest_pb2.EventBatch(experiment_id=exp, events=[e]) for e in events]
    return [b.SerializeToString() for b in [*one_each, ingest_pb2.EventBatch(experiment_id=exp, events=events)]]


def _log_seeds() -> list[bytes]:
    """Events as the log stores them: ingestion's fields set on a client's events."""
    out = []
    for data in _batch_seeds()[:-1]:
        batch = ingest_pb2.EventBatch.FromString(data)
        event = batch.events[0]
        event.workspace, event.experiment_id = "ws", batch.experiment_id
        event.event_id, event.server_time = f"{batch.experiment_id}.{event.seq}", 1.7e9
        out.append(event.SerializeToString())
    return out


SEEDS: dict[str, Callable[[], list[bytes]]] = {"event_batch": _batch_seeds, "log_event": _log_seeds}


def main(argv: list[str]) -> None:
    """Runs one target; a target with seeds gets them as a second corpus folder (libFuzzer reads
    every folder given and writes what it finds into the first)."""
    import shutil
    from pathlib import Path

    target, args = TARGETS[argv[1]], argv[2:]
    if argv[1] in SEEDS:
        folder = Path(__file__).resolve().parents[2] / ".fuzz" / "seeds" / argv[1]  # made again each run
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i, data in enumerate(SEEDS[argv[1]]()):
            (folder / f"seed-{i}").write_bytes(data)
        corpus = [a for a in args if not a.startswith("-")]
        # without a corpus folder of the caller's, the seeds' folder is the one written into
        args = [*corpus, str(folder), *(a for a in args if a.startswith("-"))]
    atheris.Setup([argv[0], *args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
