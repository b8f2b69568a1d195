"""Metadata read-model rules: how each event changes an experiment document.

Every rule is idempotent and order-free (commutative), so at-least-once delivery, redelivery
after a crash and replicas sharing a consumer all converge on the same document:

* creation fields are set from the creation event whenever it is seen;
* the status is the one carried by the highest sequence seen (the creation event is seq 0);
* a metric summary keeps min, max, and the "last" value with the greatest (iteration, seq);
* a person's edits (name, description, archived, each tag) are last-writer-wins by the event's
  JetStream stream sequence, which totally orders everything on the log.

Documents never hold NaN or Inf (nx-27017 cannot store them): a non-finite "last" value is
kept as the text "NaN", "Infinity" or "-Infinity", and min/max are over the finite values
(None while there are none), so a filter like ``metrics.loss < 0.2`` never matches a NaN.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.common.contract import STATUS_NAMES, TERMINAL_STATUSES, lower_role, name_hash
from services.common.events import ScalarColumns

Doc = dict[str, Any]
__all__ = ["STATUS_NAMES", "Doc", "lower_role"]

# Metric, variant, parameter and tag names become document keys through their md5 (ClearML's
# ids): names may hold dots and dollars that MongoDB field names cannot.
key_hash = name_hash


def new_experiment(experiment_id: str, workspace: str) -> Doc:
    return {
        "_id": experiment_id,
        "workspace": workspace,
        "created": False,
        "project": "",
        "name": "",
        "tags": [],
        "user": "",
        "status": "running",
        "status_reason": "",
        "status_seq": -1,
        "created_at": 0.0,
        "started_at": 0.0,
        "updated_at": 0.0,
        "ended_at": 0.0,
        "duration": None,
        "metrics": {},
        "description": "",
        "archived": False,
        "published": False,
        "deleted": False,
        "cleared": False,
        # stream sequence of the last write of each editable field, and of each tag
        "field_seq": {
            "name": -1, "description": -1, "archived": -1, "project": -1, "published": -1, "deleted": -1,
            "execution": -1, "stop_requested": -1,
        },
        "tag_state": {},
        # params.<md5 section>.<md5 name> -> {section, name, value, type, description, seq, on}
        "params": {},
        # configurations.<md5 name> -> {name, text, content_type, description, seq}
        "configurations": {},
        # properties.<md5 key> -> {key, value, seq, on}
        "properties": {},
        "execution": {},
        # artifacts.<md5 kind/name> -> {name, kind, key, size, sha256, ..., registered_at, seq}
        "artifacts": {},
        "last_seen": 0.0,
        "stop_requested": False,
        "version": 0,
    }  # fmt: skip


def _derive(doc: Doc) -> Doc:
    """Fields computed from others (so the table can filter and sort on them)."""
    ended, started = doc["ended_at"], doc["started_at"]
    doc["duration"] = max(0.0, ended - started) if ended and started else None
    return doc


def _set_field(doc: Doc, name: str, value: Any, stream_seq: int) -> None:
    if stream_seq > doc["field_seq"][name]:
        doc[name] = value
        doc["field_seq"][name] = stream_seq


def _set_tag(doc: Doc, tag: str, on: bool, stream_seq: int) -> None:
    state = doc["tag_state"].setdefault(key_hash(tag), {"tag": tag, "on": False, "seq": -1})
    if stream_seq > state["seq"]:
        state.update(on=on, seq=stream_seq)
    doc["tags"] = sorted(s["tag"] for s in doc["tag_state"].values() if s["on"])


def _foreign(doc: Doc | None, workspace: str) -> bool:
    """An event of another workspace never changes a document (ids are global), and nothing
    changes a cleared one (its tombstone keeps late events from bringing it back)."""
    return doc is not None and (doc["workspace"] != workspace or doc.get("cleared", False))


def _writable(doc: Doc | None, experiment_id: str, workspace: str) -> Doc:
    """A copy of ``doc`` to change (a new document when there is none), or ``doc`` itself when
    the event must not change it (see :func:`_foreign`)."""
    if doc is not None and _foreign(doc, workspace):
        return doc
    return copy.deepcopy(doc) if doc else new_experiment(experiment_id, workspace)


def apply_created(
    doc: Doc | None, experiment_id: str, workspace: str, payload: Any, server_time: float, stream_seq: int
) -> Doc:
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    out.update(created=True, user=payload.user, created_at=server_time, started_at=payload.started_at)
    _set_field(out, "name", payload.name, stream_seq)
    _set_field(out, "project", payload.project, stream_seq)
    for tag in payload.tags:
        _set_tag(out, tag, True, stream_seq)
    out["updated_at"] = max(out["updated_at"], server_time)
    if out["status_seq"] < 0:
        out["status"], out["status_seq"] = "running", 0
    return _derive(out)


def apply_status(
    doc: Doc | None, experiment_id: str, workspace: str, seq: int, status: str, reason: str, at: float
) -> Doc:
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    if seq > out["status_seq"]:
        out.update(status=status, status_reason=reason, status_seq=seq)
        out["ended_at"] = at if status in TERMINAL_STATUSES else 0.0
    out["updated_at"] = max(out["updated_at"], at)
    return _derive(out)


def apply_edited(doc: Doc | None, experiment_id: str, workspace: str, payload: Any, at: float, stream_seq: int) -> Doc:
    """A person's edit. Fields not set in the event are left alone."""
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    for name in ("name", "description"):
        # Published experiments are read-only. (The gateway refuses such edits up front; this
        # guards against a race with the publish. An edit that reaches the projection before
        # an earlier-sequenced publish still applies: edits are rare enough to accept that.)
        if payload.HasField(name) and not (out["published"] and stream_seq > out["field_seq"]["published"]):
            _set_field(out, name, getattr(payload, name), stream_seq)
    for name in ("archived", "project", "deleted"):
        if payload.HasField(name):
            _set_field(out, name, getattr(payload, name), stream_seq)
    if payload.HasField("published") and payload.published:
        _set_field(out, "published", True, stream_seq)  # publishing cannot be undone
    for tag in payload.add_tags:
        _set_tag(out, tag, True, stream_seq)
    for tag in payload.remove_tags:
        _set_tag(out, tag, False, stream_seq)
    out["updated_at"] = max(out["updated_at"], at)
    return out


def apply_cleared(doc: Doc | None, experiment_id: str, workspace: str, at: float) -> Doc:
    """Permanent removal: what is left is a tombstone that nothing changes any more."""
    if doc is not None and _foreign(doc, workspace):
        return doc
    out = new_experiment(experiment_id, workspace)
    out.update(cleared=True, updated_at=at)
    return out


def encode_float(x: float) -> float | str:
    """A value a document can hold: finite floats as they are, NaN/Inf as JSON-style text."""
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def decode_float(v: float | str | None) -> float:
    return float("nan") if v is None else float(v)


@dataclass(frozen=True)
class SeriesSummary:
    metric: str
    variant: str
    last: float | str
    last_iteration: int
    min: float | None
    max: float | None


def summarize(columns: ScalarColumns) -> list[SeriesSummary]:
    """Per-series min, max and last (by iteration; the later point of a batch wins a tie)."""
    out: list[SeriesSummary] = []
    if len(columns) == 0:
        return out
    for s in np.unique(columns.series_index):
        mask = columns.series_index == s
        its = columns.iterations[mask]
        vals = columns.values[mask]
        # the last occurrence of the greatest iteration
        last_at = len(its) - 1 - int(np.argmax(its[::-1]))
        finite = vals[np.isfinite(vals)]
        out.append(
            SeriesSummary(
                metric=str(columns.metrics[s]),
                variant=str(columns.variants[s]),
                last=encode_float(float(vals[last_at])),
                last_iteration=int(its[last_at]),
                min=float(finite.min()) if len(finite) else None,
                max=float(finite.max()) if len(finite) else None,
            )
        )
    return out


def apply_scalars(
    doc: Doc | None, experiment_id: str, workspace: str, seq: int, summaries: list[SeriesSummary], at: float
) -> Doc:
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    metrics: dict[str, dict[str, Doc]] = out["metrics"]
    for s in summaries:
        variants = metrics.setdefault(key_hash(s.metric), {})
        cur = variants.get(key_hash(s.variant))
        if cur is None:
            variants[key_hash(s.variant)] = {
                "metric": s.metric,
                "variant": s.variant,
                "last": s.last,
                "last_iteration": s.last_iteration,
                "last_seq": seq,
                "min": s.min,
                "max": s.max,
            }
            continue
        cur["min"] = _extreme(min, cur["min"], s.min)
        cur["max"] = _extreme(max, cur["max"], s.max)
        if (s.last_iteration, seq) >= (cur["last_iteration"], cur["last_seq"]):
            cur.update(last=s.last, last_iteration=s.last_iteration, last_seq=seq)
    out["updated_at"] = max(out["updated_at"], at)
    return out


def _extreme(pick: Any, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return float(pick(a, b))


def apply_alive(doc: Doc | None, experiment_id: str, workspace: str, at: float) -> Doc:
    """Any event from the client, or its heartbeat: it is alive at ``at``."""
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    out["last_seen"] = max(out.get("last_seen", 0.0), at)
    return out


def apply_stop_requested(doc: Doc | None, experiment_id: str, workspace: str, stream_seq: int) -> Doc:
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    _set_field(out, "stop_requested", True, stream_seq)
    return out


def _read_only(doc: Doc, stream_seq: int) -> bool:
    """Published experiments take no more changes to what they report."""
    return bool(doc["published"]) and stream_seq > doc["field_seq"]["published"]


def _lww(entries: Doc, key: str, value: Doc, stream_seq: int) -> None:
    cur = entries.get(key)
    if cur is None or stream_seq > cur["seq"]:
        entries[key] = {**value, "seq": stream_seq}


def apply_params(doc: Doc | None, experiment_id: str, workspace: str, payload: Any, stream_seq: int) -> Doc:
    """Hyperparameters merge name by name (last writer by stream sequence); removals leave a
    tombstone so an older set that arrives late cannot bring a name back."""
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    if _read_only(out, stream_seq):
        return out
    section = out["params"].setdefault(key_hash(payload.section), {})
    for p in payload.params:
        entry = {"section": payload.section, "name": p.name, "value": p.value, "type": p.type,
                 "description": p.description, "on": True}  # fmt: skip
        _lww(section, key_hash(p.name), entry, stream_seq)
    for name in payload.remove:
        _lww(
            section, key_hash(name), {"section": payload.section, "name": name, "value": None, "on": False}, stream_seq
        )
    return out


def apply_configuration(doc: Doc | None, experiment_id: str, workspace: str, payload: Any, stream_seq: int) -> Doc:
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    if _read_only(out, stream_seq):
        return out
    entry = {"name": payload.name, "text": payload.text, "content_type": payload.content_type,
             "description": payload.description}  # fmt: skip
    _lww(out["configurations"], key_hash(payload.name), entry, stream_seq)
    return out


def apply_properties(doc: Doc | None, experiment_id: str, workspace: str, payload: Any, stream_seq: int) -> Doc:
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    if _read_only(out, stream_seq):
        return out
    for k, v in payload.set.items():
        _lww(out["properties"], key_hash(k), {"key": k, "value": v, "on": True}, stream_seq)
    for k in payload.remove:
        _lww(out["properties"], key_hash(k), {"key": k, "value": None, "on": False}, stream_seq)
    return out


def apply_execution(doc: Doc | None, experiment_id: str, workspace: str, execution: Doc, stream_seq: int) -> Doc:
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    if not _read_only(out, stream_seq):
        _set_field(out, "execution", execution, stream_seq)
    return out


def apply_artifact(doc: Doc | None, experiment_id: str, workspace: str, record: Doc, stream_seq: int) -> Doc:
    """An artifact or model, by kind and name: a new upload under the same name replaces it."""
    if (out := _writable(doc, experiment_id, workspace)) is doc:
        return out  # not this event's to change
    if not _read_only(out, stream_seq):
        _lww(out["artifacts"], key_hash(f"{record['kind']}/{record['name']}"), record, stream_seq)
    return out


def param_sections(doc: Doc) -> list[tuple[str, list[Doc]]]:
    """(section, params) sorted by section then name, without removed names."""
    out = []
    for entries in doc.get("params", {}).values():
        live = sorted((p for p in entries.values() if p.get("on")), key=lambda p: p["name"])
        if live:
            out.append((live[0]["section"], live))
    return sorted(out)


def live_properties(doc: Doc) -> dict[str, str]:
    return {p["key"]: p["value"] for p in doc.get("properties", {}).values() if p.get("on")}


def column_names(doc: Doc) -> set[tuple[str, str]]:
    """The (kind, name) of every metric series, hyperparameter and user property of a document,
    in the query language's terms: ``("metrics", "loss/train")``, ``("params", "Args/lr")``,
    ``("tags", "owner")``."""
    out: set[tuple[str, str]] = set()
    for variants in doc.get("metrics", {}).values():
        for v in variants.values():
            out.add(("metrics", v["metric"] if v["metric"] == v["variant"] else f"{v['metric']}/{v['variant']}"))
    for section, params in param_sections(doc):
        out.update(("params", f"{section}/{p['name']}") for p in params)
    out.update(("tags", key) for key in live_properties(doc))
    return out


def column_doc(workspace: str, project: str, kind: str, name: str) -> Doc:
    """The ``project_columns`` document saying that ``project`` has this column; its id makes a
    second note of the same column a duplicate."""
    column_id = name_hash(f"{workspace}\n{project}\n{kind}\n{name}")
    return {"_id": column_id, "workspace": workspace, "project": project, "kind": kind, "name": name}


def metric_summaries(doc: Doc) -> list[Doc]:
    """The summaries of a document, sorted by metric then variant."""
    rows = [v for variants in doc.get("metrics", {}).values() for v in variants.values()]
    return sorted(rows, key=lambda r: (r["metric"], r["variant"]))


# -- access: API keys ---------------------------------------------------------------------------


def new_key(key_id: str, workspace: str) -> Doc:
    return {
        "_id": key_id,
        "workspace": workspace,
        "created": False,
        "hash": f"pending:{key_id}",  # unique, and never a SHA-256 hex digest
        "hash_seq": -1,
        "role": "",
        "name": "",
        "revoked": False,
        "created_at": 0.0,
        "rotated_at": 0.0,
        "created_by": "",
        "user": "",
        "version": 0,
    }


def apply_key_created(doc: Doc | None, workspace: str, payload: Any, at: float, stream_seq: int) -> Doc:
    if doc is not None and _foreign(doc, workspace):
        return doc
    out = copy.deepcopy(doc) if doc else new_key(payload.key_id, workspace)
    out.update(
        created=True, role=payload.role, name=payload.name, created_at=at, created_by=payload.created_by,
        user=payload.user,
    )  # fmt: skip
    if stream_seq > out["hash_seq"]:
        out.update(hash=payload.key_hash, hash_seq=stream_seq)
    return out


def apply_key_rotated(doc: Doc | None, workspace: str, payload: Any, at: float, stream_seq: int) -> Doc:
    if doc is not None and _foreign(doc, workspace):
        return doc
    out = copy.deepcopy(doc) if doc else new_key(payload.key_id, workspace)
    if stream_seq > out["hash_seq"]:
        out.update(hash=payload.key_hash, hash_seq=stream_seq, rotated_at=at)
    return out


def apply_key_revoked(doc: Doc | None, workspace: str, payload: Any, at: float, stream_seq: int) -> Doc:
    if doc is not None and _foreign(doc, workspace):
        return doc
    out = copy.deepcopy(doc) if doc else new_key(payload.key_id, workspace)
    out["revoked"] = True  # terminal: a revoked key never comes back
    return out


# -- access: members ----------------------------------------------------------------------------
def member_id(workspace: str, user: str) -> str:
    return f"{workspace}/{user}"


def new_member(workspace: str, user: str) -> Doc:
    return {
        "_id": member_id(workspace, user),
        "workspace": workspace,
        "user": user,
        "role": "",
        "active": False,
        "seq": -1,
        "added_at": 0.0,
        "updated_at": 0.0,
        "version": 0,
    }


def apply_member(doc: Doc | None, workspace: str, user: str, role: str | None, at: float, stream_seq: int) -> Doc:
    """Joins or changes role (``role``) or leaves (None); the latest stream sequence wins."""
    out = copy.deepcopy(doc) if doc else new_member(workspace, user)
    if stream_seq <= out["seq"]:
        return doc if doc is not None else out
    if role is not None and not out["active"]:
        out["added_at"] = at
    out.update(active=role is not None, role=role or "", seq=stream_seq, updated_at=at)
    return out


# -- projects -----------------------------------------------------------------------------------
def project_id(workspace: str, path: str) -> str:
    return f"{workspace}/{path}"


def new_project(workspace: str, path: str, at: float) -> Doc:
    return {
        "_id": project_id(workspace, path),
        "workspace": workspace,
        "path": path,
        "created_at": at,
        "updated_at": at,
        "public": False,
        "public_seq": -1,
        "description": "",
        "description_seq": -1,
        "version": 0,
    }


def apply_project_edited(doc: Doc | None, workspace: str, payload: Any, at: float, stream_seq: int) -> Doc:
    """Visibility, description and MLflow's lifecycle, each last-writer-wins by stream sequence."""
    out = copy.deepcopy(doc) if doc else new_project(workspace, payload.project, at)
    changed = doc is None
    for field in ("public", "description", "archived", "mlflow_id", "renamed_to"):
        if payload.HasField(field) and stream_seq > out.get(f"{field}_seq", -1):
            out[field], out[f"{field}_seq"] = getattr(payload, field), stream_seq
            changed = True
    return out if changed else doc  # type: ignore[return-value]


def apply_default_view(doc: Doc | None, workspace: str, project: str, name: str | None, at: float,
                       stream_seq: int, only_if: str | None = None) -> Doc:  # fmt: skip
    """The project's default view, last-writer-wins by stream sequence; ``only_if``: change it only
    while it is that view (a deleted view stops being the default)."""
    out = copy.deepcopy(doc) if doc else new_project(workspace, project, at)
    changed = doc is None
    if at < out["created_at"] or at > out["updated_at"]:  # the same times in whatever order events come
        out["created_at"], out["updated_at"], changed = min(at, out["created_at"]), max(at, out["updated_at"]), True
    if stream_seq > out.get("default_view_seq", -1) and (only_if is None or out.get("default_view") == only_if):
        out.update(default_view=name or None, default_view_seq=stream_seq)
        changed = True
    return out if changed else doc  # type: ignore[return-value]


def view_id(workspace: str, project: str, name: str) -> str:
    return json.dumps([workspace, project, name], separators=(",", ":"))  # unambiguous whatever the name


def apply_view(doc: Doc | None, workspace: str, project: str, name: str, state: str | None, user: str, at: float,
               stream_seq: int) -> Doc:  # fmt: skip
    """A saved view (``state`` None: deleted, kept as a tombstone): the newest event by stream
    sequence wins, so a redelivered or late older one changes nothing."""
    if doc is not None and stream_seq <= doc.get("seq", -1):
        return doc
    return {
        "_id": view_id(workspace, project, name),
        "workspace": workspace,
        "project": project,
        "name": name,
        "state": state or "",
        "deleted": state is None,
        "user": user,
        "updated_at": at,
        "seq": stream_seq,
    }


def visible(path: str, public_paths: set[str]) -> bool:
    """A project is public when it, or a project it is nested in, is marked public."""
    parts = path.split("/")
    return any("/".join(parts[:depth]) in public_paths for depth in range(1, len(parts) + 1))


# -- workspace settings and embed grants ---------------------------------------------------------
def apply_workspace_edited(doc: Doc | None, workspace: str, payload: Any, at: float, stream_seq: int) -> Doc:
    """Name and embed origins, each last-writer-wins by stream sequence."""
    out: Doc = copy.deepcopy(doc) if doc else {"_id": workspace, "name": workspace, "created_at": at}
    changed = doc is None
    if payload.HasField("name") and stream_seq > out.get("name_seq", -1):
        out.update(name=payload.name, name_seq=stream_seq)
        changed = True
    wants = payload.HasField("embed_origins") or payload.reset_embed_origins
    if wants and stream_seq > out.get("embed_origins_seq", -1):
        origins = None if payload.reset_embed_origins else list(payload.embed_origins.origins)
        out.update(embed_origins=origins, embed_origins_seq=stream_seq)
        changed = True
    return out if changed else doc  # type: ignore[return-value]


def new_embed(embed_id: str, workspace: str) -> Doc:
    return {
        "_id": embed_id,
        "workspace": workspace,
        "created": False,
        "scope_json": "{}",
        "expires_at": 0.0,
        "name": "",
        "created_at": 0.0,
        "created_by": "",
        "revoked": False,
        "version": 0,
    }


def apply_embed_created(doc: Doc | None, workspace: str, payload: Any, at: float) -> Doc:
    if doc is not None and _foreign(doc, workspace):
        return doc
    out = copy.deepcopy(doc) if doc else new_embed(payload.embed_id, workspace)
    out.update(
        created=True, scope_json=payload.scope_json, expires_at=payload.expires_at, name=payload.name,
        created_at=at, created_by=payload.by_key,
    )  # fmt: skip
    return out


def apply_embed_revoked(doc: Doc | None, workspace: str, embed_id: str) -> Doc:
    if doc is not None and _foreign(doc, workspace):
        return doc
    out = copy.deepcopy(doc) if doc else new_embed(embed_id, workspace)
    out["revoked"] = True  # terminal, whatever the order the two events arrive in
    return out
