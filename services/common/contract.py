"""The one contract every service and the gateway share: ids, names and their limits, the
event log's subjects and kinds, and the one factory for the event envelope.

A service package imports this module (and the rest of ``services.common``) and the protocol,
never another service package; ``tests/unit/test_layers.py`` fails on a new such import. The
limits are documented in the README ("Names and limits"); change both together.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from tracklane_proto import events_pb2

# -- ids ------------------------------------------------------------------------------------------
EXPERIMENT_ID = re.compile(r"^[0-9a-f]{32}$")  # chosen by the client: uuid4().hex
WORKSPACE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
KEY_ID = re.compile(r"^[0-9a-z]{1,32}$")
EMBED_ID = re.compile(r"^[0-9a-f]{16}$")
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")  # a login or an e-mail address
REPORT_ID = re.compile(r"^r[0-9a-f]{24}$")  # chosen by the gateway: never an experiment id
SHARE_ID = re.compile(r"^[0-9a-f]{16}$")
# The experiment token of workspace-level events: not 32 hex characters, so never an experiment.
WORKSPACE_LEVEL = "workspace"

# -- names and limits (distinct meanings, distinct names) -----------------------------------------
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# A name needs one character that is neither a control character nor an ASCII space (the same
# rule as the API's JSON Schema patterns, so the document and the server agree).
SOLID_CHAR = re.compile(r"[^\x00-\x20\x7f]")
MAX_NAME = 255  # experiment, metric, variant, section, parameter, configuration, artifact names
MAX_TAGS = 64  # labels per experiment edit / per open
MAX_TAG = 128
MAX_KEY_NAME = 128  # an API key's or a workspace's display name
MAX_EXPERIMENT_DESCRIPTION = 10_000
MAX_PROJECT_DESCRIPTION = 10_000
MAX_VIEW_NAME = 100  # a saved view's name
MAX_VIEW_STATE = 16_384  # a saved view's state: the web UI's URL query, in bytes
MAX_VIEWS = 100  # saved views per project
MAX_REPORT_DESCRIPTION = 10_000
# a report's markdown, in characters (≤ 800 KB of UTF-8: one event fits NATS's default 1 MiB
# message); images are files, not inline data
MAX_REPORT_BODY = 200_000
MAX_NOTE = 100_000  # a project's or an experiment's notes, in characters
MAX_REPORT_IMAGE = 10 * 1024 * 1024  # an image pasted into a report
MAX_PARAM_DESCRIPTION = 4096  # a hyperparameter's or configuration object's description
MAX_EXECUTION_FIELD = 4096  # repository, branch, commit, entry point, working dir, python, argv
MAX_REASON = 4096  # a status change's reason, as the client reports it
MAX_STOP_REASON = 1000  # a person's reason for a stop request
MAX_ITERATION = 2**63 - 1
MAX_EVENTS_PER_BATCH = 1000
MAX_POINTS_PER_EVENT = 200_000
MAX_SERIES_PER_EVENT = 10_000
MAX_PARAMS_PER_EVENT = 10_000
MAX_PARAM_VALUE = 64 * 1024
MAX_TYPE = 64
MAX_CONFIGURATION = 512 * 1024
MAX_PROPERTIES_PER_EVENT = 1000
MAX_PROPERTY_VALUE = 4096
MAX_DIFF = 512 * 1024
MAX_PACKAGES = 256 * 1024
MAX_ENV_VARS = 200
MAX_CONSOLE_LINES = 10_000
MAX_CONSOLE_LINE = 16 * 1024
MAX_FIGURE = 768 * 1024
MAX_PREVIEW = 64 * 1024
MAX_METADATA_ENTRIES = 100
MAX_OBJECT_KEY = 1024
_BAD_OBJECT_KEY = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclass(frozen=True)
class ValidationError(Exception):
    """``field`` is a path into the request (``events[2].scalars.values``)."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def check_name(field: str, value: str, *, max_len: int = MAX_NAME, required: bool = True) -> None:
    if required and not SOLID_CHAR.search(value):
        raise ValidationError(field, "must not be empty")
    if len(value) > max_len:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {max_len}")
    if CONTROL_CHARS.search(value):
        raise ValidationError(field, "must not contain control characters")


def check_text(field: str, value: str, max_len: int) -> None:
    """Free text (values, descriptions, diffs): any characters, bounded length."""
    if len(value) > max_len:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {max_len}")


def check_experiment_id(value: str, field: str = "experiment_id") -> None:
    if not EXPERIMENT_ID.match(value):
        raise ValidationError(field, "must be 32 lowercase hexadecimal characters")


def check_project(value: str, field: str = "project") -> None:
    check_name(field, value)
    if any(not SOLID_CHAR.search(part) for part in value.split("/")):
        raise ValidationError(field, "nested project names are 'a/b/c' with no empty part")


def check_iteration(field: str, value: int) -> None:
    if not 0 <= value <= MAX_ITERATION:
        raise ValidationError(field, f"is {value}; must be 0..2**63-1")


def check_object_key(key: str) -> str:
    """Object keys are relative paths: no empty, '.' or '..' segment, no control characters;
    ValueError (``key: …``) otherwise."""
    if not key or len(key) > MAX_OBJECT_KEY:
        raise ValueError(f"key: must be 1..{MAX_OBJECT_KEY} characters")
    if _BAD_OBJECT_KEY.search(key):
        raise ValueError("key: must not contain control characters or backslashes")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError("key: must be a relative path without empty, '.' or '..' parts")
    return key


def object_key(workspace: str, experiment_id: str, key: str) -> str:
    """The store's key of ``key`` (relative to the experiment): ``<workspace>/<experiment>/<key>``,
    so no client can name another experiment's objects; ValueError when it is unsafe."""
    if not EXPERIMENT_ID.match(experiment_id) or not workspace or "/" in workspace:
        raise ValueError("experiment_id: not an experiment of this workspace")
    return check_object_key(f"{workspace}/{experiment_id}/{check_object_key(key)}")


def name_hash(text: str) -> str:
    """Metric and variant names as ids (ClearML's md5 ids; MongoDB keys that may not hold dots)."""
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (an id, not security)


# -- statuses and roles ---------------------------------------------------------------------------
STATUS_NAMES = {0: "unspecified", 1: "running", 2: "completed", 3: "failed", 4: "stopped"}
TERMINAL_STATUSES = frozenset({"completed", "failed", "stopped"})
ROLES = ("admin", "member", "viewer")
_RANK = {"viewer": 1, "member": 2, "admin": 3}


def role_at_most(role: str, ceiling: str) -> bool:
    return _RANK.get(role, 0) <= _RANK.get(ceiling, 0)


def lower_role(a: str, b: str) -> str:
    return a if _RANK.get(a, 0) <= _RANK.get(b, 0) else b


# -- subjects and kinds ---------------------------------------------------------------------------
SUBJECT_PREFIX = "tl.ev"
# payload case -> kind, the subject's last token
KIND_OF_PAYLOAD = {
    "experiment_created": "lifecycle",
    "status_changed": "lifecycle",
    "experiment_cleared": "lifecycle",
    "scalars": "scalars",
    "experiment_edited": "edit",
    "key_created": "access",
    "key_rotated": "access",
    "key_revoked": "access",
    "workspace_created": "access",
    "member_set": "access",
    "member_removed": "access",
    "project_edited": "access",
    "workspace_edited": "access",
    "embed_created": "access",
    "embed_revoked": "access",
    "sign_in_link_used": "access",
    "view_saved": "access",
    "view_deleted": "access",
    "view_default_set": "access",
    "report_created": "report",
    "report_edited": "report",
    "report_shared": "share",
    "report_share_revoked": "share",
    "note_set": "note",
    "client_alive": "alive",
    "stop_requested": "control",
    "params_set": "meta",
    "configuration_set": "meta",
    "properties_set": "meta",
    "execution_reported": "meta",
    "console_lines": "console",
    "plot_reported": "plots",
    "debug_sample": "files",
    "artifact_registered": "files",
}
KINDS = tuple(dict.fromkeys(KIND_OF_PAYLOAD.values()))


def subject(workspace: str, experiment_id: str, kind: str) -> str:
    """``tl.ev.<workspace>.<experiment>.<kind>``: where an event lives on the log."""
    return f"{SUBJECT_PREFIX}.{workspace}.{experiment_id}.{kind}"


def kind_filter(kind: str) -> str:
    """The subject filter of every event of one kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    return f"{SUBJECT_PREFIX}.*.*.{kind}"


def kind_of(event: events_pb2.Event) -> str:
    return KIND_OF_PAYLOAD[event.WhichOneof("payload") or ""]


# -- the envelope ---------------------------------------------------------------------------------
# 2: the times inside payloads are always set (StatusChanged.at, ExperimentCreated.started_at); in
# version 1 a zero meant "the server's time". Older events are upcast on read (events.upcast).
SCHEMA_VERSION = 2


def note_target(project: str) -> str:
    """The subject token of a project's notes (a project path cannot be one: it may hold dots)."""
    return "n" + name_hash(project)[:24]


def event_id(experiment_id: str, seq: int) -> str:
    """Deterministic, so a resend of the same event has the same id everywhere."""
    return f"{experiment_id}.{seq}"


def new_event(
    workspace: str,
    experiment_id: str,
    event_id: str,
    *,
    seq: int = 0,
    client_time: float = 0.0,
    server_time: float | None = None,
    **payload: Any,
) -> events_pb2.Event:
    """The one way an event is built on the server: the envelope (ids, sequence, schema version,
    times) around exactly one payload (``scalars=…``, ``experiment_edited=…``). Commands from
    people carry ``seq`` 0; a client's events their per-experiment sequence."""
    if len(payload) != 1:
        raise TypeError(f"an event carries exactly one payload, got {sorted(payload)}")
    (name,) = payload
    if name not in KIND_OF_PAYLOAD:
        raise TypeError(f"unknown payload {name!r}")
    at = time.time() if server_time is None else server_time
    if not math.isfinite(at):
        raise ValueError("server_time must be finite")
    return events_pb2.Event(
        event_id=event_id,
        workspace=workspace,
        experiment_id=experiment_id,
        seq=seq,
        schema_version=SCHEMA_VERSION,
        client_time=client_time,
        server_time=at,
        **payload,
    )


def stamp(event: events_pb2.Event, workspace: str, experiment_id: str, server_time: float) -> events_pb2.Event:
    """Completes the envelope of an event a client sent (ingestion): its id, workspace, time and
    schema version are the server's to set, never the client's. A client writes payloads in the
    oldest shape (times may be 0), so its event is taken as version 1 and upcast."""
    event.event_id = event_id(experiment_id, event.seq)
    event.workspace = workspace
    event.experiment_id = experiment_id
    event.server_time = server_time
    event.schema_version = 1
    return upcast(event)


def _v1_to_v2(event: events_pb2.Event) -> None:
    """Version 1 left a payload's own time 0 to mean "when the server received it"."""
    kind = event.WhichOneof("payload")
    if kind == "status_changed" and not event.status_changed.at:
        event.status_changed.at = event.server_time
    elif kind == "experiment_created" and not event.experiment_created.started_at:
        event.experiment_created.started_at = event.server_time


# schema_version -> the step that turns an event of that version into the next one
UPCASTERS = {1: _v1_to_v2}


def upcast(event: events_pb2.Event) -> events_pb2.Event:
    """The event in the current schema version, whatever version it was stored in (0, absent
    in the oldest events, counts as 1). Stored events are never rewritten; they are upcast each
    time they are read, by every projection and by replay alike."""
    version = max(event.schema_version, 1)
    if version > SCHEMA_VERSION:
        raise ValueError(f"event {event.event_id}: schema version {version} is newer than this server's")
    while version < SCHEMA_VERSION:
        UPCASTERS[version](event)
        version += 1
    event.schema_version = version
    return event
