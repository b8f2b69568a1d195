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


def main(argv: list[str]) -> None:
    target = TARGETS[argv[1]]
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
