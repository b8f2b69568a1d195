"""What ingestion accepts from a client's stream. Validation is all-or-nothing: a batch with one
bad field is refused whole, with the field's path and the reason, before anything of it is
published. The payload rules themselves are shared (``services.common.payloads``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tracklane_proto import events_pb2, ingest_pb2

from services.common.contract import (
    MAX_EVENTS_PER_BATCH,
    MAX_TAG,
    MAX_TAGS,
    ValidationError,
    check_experiment_id,
    check_name,
    check_project,
)
from services.common.payloads import (
    validate_artifact,
    validate_configuration,
    validate_console,
    validate_debug_sample,
    validate_execution,
    validate_params,
    validate_plot,
    validate_properties,
    validate_scalars,
    validate_status,
)


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
        if kind is None:
            raise ValidationError(f"{where}.payload", "is missing")
        check = _CLIENT_PAYLOADS.get(kind)
        if check is None:
            raise ValidationError(f"{where}.payload", f"{kind} cannot be sent in a batch")
        check(f"{where}.{kind}", getattr(event, kind))


def validate_client_edit(where: str, edit: events_pb2.ExperimentEdited) -> None:
    """From a training script only tags can be added (the rest are people's commands)."""
    for name in ("name", "description", "archived", "project", "published", "deleted"):
        if edit.HasField(name):
            raise ValidationError(f"{where}.{name}", "cannot be changed from a client stream; use the HTTP API")
    if edit.remove_tags or edit.by_key:
        raise ValidationError(f"{where}.remove_tags", "a client stream can only add tags")
    if len(edit.add_tags) > MAX_TAGS:
        raise ValidationError(f"{where}.add_tags", f"{len(edit.add_tags)} tags; the limit is {MAX_TAGS}")
    for j, tag in enumerate(edit.add_tags):
        check_name(f"{where}.add_tags[{j}]", tag, max_len=MAX_TAG)


_CLIENT_PAYLOADS: dict[str, Callable[[str, Any], None]] = {
    "scalars": validate_scalars,
    "status_changed": validate_status,
    "params_set": validate_params,
    "configuration_set": validate_configuration,
    "properties_set": validate_properties,
    "execution_reported": validate_execution,
    "console_lines": validate_console,
    "plot_reported": validate_plot,
    "debug_sample": validate_debug_sample,
    "artifact_registered": validate_artifact,
    "experiment_edited": validate_client_edit,
}
