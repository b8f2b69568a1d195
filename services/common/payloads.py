"""The rules of event payloads, shared by ingestion (a client's batches) and the gateway (people's
edits of parameters and properties). Each raises :class:`ValidationError` naming the field's
path and the reason; nothing is published before the whole request passed.
"""

from __future__ import annotations

import json
import re

import numpy as np
from tracklane_proto import events_pb2

from services.common.contract import (
    MAX_CONFIGURATION,
    MAX_CONSOLE_LINE,
    MAX_CONSOLE_LINES,
    MAX_DIFF,
    MAX_ENV_VARS,
    MAX_EXECUTION_FIELD,
    MAX_FIGURE,
    MAX_METADATA_ENTRIES,
    MAX_PACKAGES,
    MAX_PARAM_DESCRIPTION,
    MAX_PARAM_VALUE,
    MAX_PARAMS_PER_EVENT,
    MAX_POINTS_PER_EVENT,
    MAX_PREVIEW,
    MAX_PROPERTIES_PER_EVENT,
    MAX_PROPERTY_VALUE,
    MAX_REASON,
    MAX_SERIES_PER_EVENT,
    MAX_TYPE,
    ValidationError,
    check_iteration,
    check_name,
    check_object_key,
    check_text,
)
from services.common.events import ConsoleColumns, ScalarColumns

PLOT_KINDS = {"plotly", "matplotlib", "table", "confusion_matrix", "histogram"}
SAMPLE_KINDS = {"image", "audio", "video", "html"}
FILE_AREAS = {"artifacts", "models", "debug"}
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CLIENT_STATUSES = {
    events_pb2.EXPERIMENT_STATUS_RUNNING,
    events_pb2.EXPERIMENT_STATUS_COMPLETED,
    events_pb2.EXPERIMENT_STATUS_FAILED,
    events_pb2.EXPERIMENT_STATUS_STOPPED,
}


def validate_status(where: str, sc: events_pb2.StatusChanged) -> None:
    if sc.status not in CLIENT_STATUSES:
        raise ValidationError(f"{where}.status", "must be running, completed, failed or stopped")
    check_name(f"{where}.reason", sc.reason, max_len=MAX_REASON, required=False)


def validate_params(where: str, ps: events_pb2.ParamsSet) -> None:
    check_name(f"{where}.section", ps.section)
    if len(ps.params) + len(ps.remove) > MAX_PARAMS_PER_EVENT:
        raise ValidationError(f"{where}.params", f"more than {MAX_PARAMS_PER_EVENT} parameters in one event")
    for j, p in enumerate(ps.params):
        check_name(f"{where}.params[{j}].name", p.name)
        check_text(f"{where}.params[{j}].value", p.value, MAX_PARAM_VALUE)
        check_name(f"{where}.params[{j}].type", p.type, max_len=MAX_TYPE, required=False)
        check_text(f"{where}.params[{j}].description", p.description, MAX_PARAM_DESCRIPTION)
    for j, name in enumerate(ps.remove):
        check_name(f"{where}.remove[{j}]", name)


def validate_configuration(where: str, cs: events_pb2.ConfigurationSet) -> None:
    check_name(f"{where}.name", cs.name)
    check_text(f"{where}.text", cs.text, MAX_CONFIGURATION)
    if cs.content_type not in ("yaml", "json", "text"):
        raise ValidationError(f"{where}.content_type", "must be yaml, json or text")
    check_text(f"{where}.description", cs.description, MAX_PARAM_DESCRIPTION)


def validate_properties(where: str, ps: events_pb2.PropertiesSet) -> None:
    if len(ps.set) + len(ps.remove) > MAX_PROPERTIES_PER_EVENT:
        raise ValidationError(f"{where}.set", f"more than {MAX_PROPERTIES_PER_EVENT} properties in one event")
    for k, v in ps.set.items():
        check_name(f"{where}.set[{k[:40]!r}]", k)
        check_text(f"{where}.set[{k[:40]!r}]", v, MAX_PROPERTY_VALUE)
    for j, name in enumerate(ps.remove):
        check_name(f"{where}.remove[{j}]", name)


def validate_execution(where: str, ex: events_pb2.ExecutionReported) -> None:
    for name in ("repository", "branch", "commit", "entry_point", "working_dir", "python", "argv"):
        check_text(f"{where}.{name}", getattr(ex, name), MAX_EXECUTION_FIELD)
    check_text(f"{where}.diff", ex.diff, MAX_DIFF)
    check_text(f"{where}.packages", ex.packages, MAX_PACKAGES)
    for name in ("environment", "runtime"):
        entries = getattr(ex, name)
        if len(entries) > MAX_ENV_VARS:
            raise ValidationError(f"{where}.{name}", f"{len(entries)} entries; the limit is {MAX_ENV_VARS}")
        for k, v in entries.items():
            check_name(f"{where}.{name}[{k[:40]!r}]", k)
            check_text(f"{where}.{name}[{k[:40]!r}]", v, MAX_PROPERTY_VALUE)


def validate_console(where: str, lines: events_pb2.ConsoleLines) -> None:
    if not lines.text:
        raise ValidationError(f"{where}.text", "a console event needs at least one line")
    if len(lines.text) > MAX_CONSOLE_LINES:
        raise ValidationError(f"{where}.text", f"{len(lines.text)} lines; the limit is {MAX_CONSOLE_LINES}")
    try:
        columns = ConsoleColumns.decode(lines)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise ValidationError(f"{where}.{field.removeprefix('console_lines.')}", reason) from None
    for j, text in enumerate(columns.text):
        check_text(f"{where}.text[{j}]", text, MAX_CONSOLE_LINE)
    if not np.isfinite(columns.timestamps).all() or (columns.timestamps < 0).any():
        raise ValidationError(f"{where}.timestamps", "must be finite seconds since the Unix epoch")
    if ((columns.levels < 1) | (columns.levels > 5)).any():
        raise ValidationError(f"{where}.levels", "each level is 1 (debug) .. 5 (critical)")
    if (columns.sources > 2).any():
        raise ValidationError(f"{where}.sources", "each source is 0 (log_text), 1 (stdout) or 2 (stderr)")


def _series_point(where: str, msg: events_pb2.PlotReported | events_pb2.DebugSample, kinds: set[str]) -> None:
    """metric, variant, iteration and kind of a plot or a debug sample."""
    check_name(f"{where}.metric", msg.metric)
    check_name(f"{where}.variant", msg.variant)
    check_iteration(f"{where}.iteration", msg.iteration)
    if msg.kind not in kinds:
        raise ValidationError(f"{where}.kind", f"must be one of {', '.join(sorted(kinds))}")


def validate_plot(where: str, plot: events_pb2.PlotReported) -> None:
    _series_point(where, plot, PLOT_KINDS)
    check_text(f"{where}.figure_json", plot.figure_json, MAX_FIGURE)
    try:
        figure = json.loads(plot.figure_json)
    except ValueError:
        raise ValidationError(f"{where}.figure_json", "is not valid JSON") from None
    if not isinstance(figure, dict) or not isinstance(figure.get("data", []), list):
        raise ValidationError(f"{where}.figure_json", 'must be a plotly figure: {"data": [...], "layout": {...}}')


def validate_file(where: str, ref: events_pb2.FileReference, areas: set[str]) -> None:
    check_file_key(f"{where}.key", ref.key, areas)
    if ref.sha256 and not SHA256.match(ref.sha256):
        raise ValidationError(f"{where}.sha256", "must be 64 lowercase hexadecimal characters")
    check_name(f"{where}.content_type", ref.content_type, required=False)


def check_file_key(field: str, key: str, areas: set[str]) -> None:
    """A key relative to the experiment, in one of ``areas`` (``artifacts/...``)."""
    try:
        check_object_key(key)
    except ValueError as exc:
        raise ValidationError(field, str(exc).removeprefix("key: ")) from None
    if key.split("/", 1)[0] not in areas or "/" not in key:
        raise ValidationError(field, f"must start with {' or '.join(sorted(a + '/' for a in areas))}")


def validate_debug_sample(where: str, sample: events_pb2.DebugSample) -> None:
    _series_point(where, sample, SAMPLE_KINDS)
    validate_file(f"{where}.file", sample.file, {"debug"})


def validate_artifact(where: str, art: events_pb2.ArtifactRegistered) -> None:
    check_name(f"{where}.name", art.name)
    if art.kind not in ("artifact", "model"):
        raise ValidationError(f"{where}.kind", "must be artifact or model")
    validate_file(f"{where}.file", art.file, {"artifacts"} if art.kind == "artifact" else {"models"})
    if len(art.metadata) > MAX_METADATA_ENTRIES:
        raise ValidationError(f"{where}.metadata", f"{len(art.metadata)} entries; the limit is {MAX_METADATA_ENTRIES}")
    for k, v in art.metadata.items():
        check_name(f"{where}.metadata[{k[:40]!r}]", k)
        check_text(f"{where}.metadata[{k[:40]!r}]", v, MAX_PROPERTY_VALUE)
    check_name(f"{where}.type", art.type, max_len=MAX_TYPE, required=False)
    check_name(f"{where}.framework", art.framework, max_len=MAX_TYPE, required=False)
    check_text(f"{where}.preview", art.preview, MAX_PREVIEW)


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
    if (columns.iterations < 0).any():
        bad = int(np.flatnonzero(columns.iterations < 0)[0])
        raise ValidationError(f"{where}.iterations", f"point {bad} is {columns.iterations[bad]}; must be >= 0")
    ts = columns.timestamps
    if not np.isfinite(ts).all() or (ts < 0).any():
        raise ValidationError(f"{where}.timestamps", "must be finite seconds since the Unix epoch")
