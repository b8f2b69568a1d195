"""What ingestion accepts. Validation is all-or-nothing: a batch with one bad field is refused
whole, with the field's path and the reason, before anything of it is published.

The limits are documented in the README ("Limits"); change both together.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from tracklane.pb import events_pb2, ingest_pb2

from services.common.events import ScalarColumns

EXPERIMENT_ID = re.compile(r"^[0-9a-f]{32}$")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 255
MAX_TAGS = 64
MAX_TAG = 128
MAX_EVENTS_PER_BATCH = 1000
MAX_POINTS_PER_EVENT = 200_000
MAX_SERIES_PER_EVENT = 10_000
MAX_REASON = 4096
MAX_ITERATION = 2**63 - 1
CLIENT_STATUSES = {
    events_pb2.EXPERIMENT_STATUS_RUNNING,
    events_pb2.EXPERIMENT_STATUS_COMPLETED,
    events_pb2.EXPERIMENT_STATUS_FAILED,
    events_pb2.EXPERIMENT_STATUS_STOPPED,
}


@dataclass(frozen=True)
class ValidationError(Exception):
    """``field`` is a path into the request (``events[2].scalars.values``)."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def check_name(field: str, value: str, *, max_len: int = MAX_NAME, required: bool = True) -> None:
    if required and not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value) > max_len:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {max_len}")
    if CONTROL_CHARS.search(value):
        raise ValidationError(field, "must not contain control characters")


def check_experiment_id(value: str, field: str = "experiment_id") -> None:
    if not EXPERIMENT_ID.match(value):
        raise ValidationError(field, "must be 32 lowercase hexadecimal characters")


def check_project(value: str) -> None:
    check_name("project", value)
    if any(not part.strip() for part in value.split("/")):
        raise ValidationError("project", "nested project names are 'a/b/c' with no empty part")


def validate_open(req: ingest_pb2.OpenExperimentRequest) -> None:
    check_experiment_id(req.experiment_id)
    check_project(req.project)
    check_name("name", req.name)
    check_name("user", req.user, required=False)
    if len(req.tags) > MAX_TAGS:
        raise ValidationError("tags", f"{len(req.tags)} tags; the limit is {MAX_TAGS}")
    for i, tag in enumerate(req.tags):
        check_name(f"tags[{i}]", tag, max_len=MAX_TAG)
    if not math.isfinite(req.started_at) or req.started_at < 0:
        raise ValidationError("started_at", "must be a finite, non-negative time in seconds")


def validate_batch(batch: ingest_pb2.EventBatch) -> None:
    check_experiment_id(batch.experiment_id)
    if not batch.events:
        raise ValidationError("events", "a batch needs at least one event")
    if len(batch.events) > MAX_EVENTS_PER_BATCH:
        raise ValidationError("events", f"{len(batch.events)} events; the limit is {MAX_EVENTS_PER_BATCH} per batch")
    previous = 0
    for i, event in enumerate(batch.events):
        where = f"events[{i}]"
        if event.seq <= previous:
            raise ValidationError(f"{where}.seq", "must be >= 1 and increase strictly within a batch")
        previous = event.seq
        if event.experiment_id and event.experiment_id != batch.experiment_id:
            raise ValidationError(f"{where}.experiment_id", "differs from the batch's experiment_id")
        if not math.isfinite(event.client_time):
            raise ValidationError(f"{where}.client_time", "must be finite")
        kind = event.WhichOneof("payload")
        if kind == "scalars":
            validate_scalars(f"{where}.scalars", event.scalars)
        elif kind == "status_changed":
            if event.status_changed.status not in CLIENT_STATUSES:
                raise ValidationError(f"{where}.status_changed.status", "must be running, completed, failed or stopped")
            check_name(
                f"{where}.status_changed.reason", event.status_changed.reason, max_len=MAX_REASON, required=False
            )
        elif kind is None:
            raise ValidationError(f"{where}.payload", "is missing")
        else:
            raise ValidationError(f"{where}.payload", f"{kind} cannot be sent in a batch")


def validate_scalars(where: str, batch: events_pb2.ScalarBatch) -> None:
    if len(batch.series) > MAX_SERIES_PER_EVENT:
        raise ValidationError(f"{where}.series", f"{len(batch.series)} series; the limit is {MAX_SERIES_PER_EVENT}")
    for j, key in enumerate(batch.series):
        check_name(f"{where}.series[{j}].metric", key.metric)
        check_name(f"{where}.series[{j}].variant", key.variant)
    try:
        columns = ScalarColumns.decode(batch)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise ValidationError(f"{where}.{field.removeprefix('scalars.')}", reason) from None
    n = len(columns)
    if n == 0:
        raise ValidationError(f"{where}.values", "a scalar batch needs at least one point")
    if n > MAX_POINTS_PER_EVENT:
        raise ValidationError(f"{where}.values", f"{n} points; the limit is {MAX_POINTS_PER_EVENT} per event")
    if not np.isfinite(columns.values).all():
        bad = int(np.flatnonzero(~np.isfinite(columns.values))[0])
        raise ValidationError(f"{where}.values", f"point {bad} is {columns.values[bad]}; values must be finite")
    if (columns.iterations < 0).any():
        bad = int(np.flatnonzero(columns.iterations < 0)[0])
        raise ValidationError(f"{where}.iterations", f"point {bad} is {columns.iterations[bad]}; must be >= 0")
    ts = columns.timestamps
    if not np.isfinite(ts).all() or (ts < 0).any():
        raise ValidationError(f"{where}.timestamps", "must be finite seconds since the Unix epoch")
