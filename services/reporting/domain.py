"""The rules of the reporting read model: how report, share and note events fold into documents.

Every event on a report's subject was accepted by the log (the gateway publishes it with
JetStream's expected-last-subject-sequence, so a stale edit never gets on the log). The fold is
then plain last-writer-wins by stream position, field by field and tag by tag: applying an event
twice, or a batch in any order, leaves the same document. A report's ``version`` is the position
of its newest content event, which is what the next edit names.
"""

from __future__ import annotations

from typing import Any

from tracklane_proto import events_pb2

Doc = dict[str, Any]
FIELDS = ("name", "project", "description", "body", "published", "archived", "deleted")


def report_id_of(workspace: str, report_id: str) -> str:
    return f"{workspace}/{report_id}"


def _base(doc: Doc | None, workspace: str, report_id: str) -> Doc:
    if doc is not None:
        return {**doc, "at": dict(doc.get("at", {})), "tags": [list(t) for t in doc.get("tags", [])]}
    return {
        "_id": report_id_of(workspace, report_id),
        "workspace": workspace,
        "report_id": report_id,
        "created": False,
        "name": "",
        "project": "",
        "description": "",
        "body": "",
        "published": False,
        "archived": False,
        "deleted": False,
        "user": "",
        "created_at": 0.0,
        "updated_at": 0.0,
        "position": 0,  # the newest content event: the report's version
        "at": {},  # field -> the position of the event that set it
        "tags": [],  # [tag, position, present]: last writer wins per tag
        "shares": {},
    }


def _set(out: Doc, name: str, value: Any, position: int) -> None:
    if position > out["at"].get(name, 0):
        out[name] = value
        out["at"][name] = position


def _tag(out: Doc, tag: str, present: bool, position: int) -> None:
    for entry in out["tags"]:
        if entry[0] == tag:
            if position > entry[1]:
                entry[1], entry[2] = position, present
            return
    out["tags"].append([tag, position, present])


def apply_report(doc: Doc | None, event: events_pb2.Event, position: int) -> Doc:
    """A report document with one ``report_created`` / ``report_edited`` event folded in."""
    kind = event.WhichOneof("payload")
    out = _base(doc, event.workspace, event.experiment_id)
    at = event.server_time
    if kind == "report_created":
        c = event.report_created
        out["created"] = True
        out["user"] = c.user
        out["created_at"] = at
        for name, value in (("name", c.name), ("project", c.project), ("description", c.description), ("body", c.body)):
            _set(out, name, value, position)
        for tag in c.tags:
            _tag(out, tag, True, position)
    elif kind == "report_edited":
        e = event.report_edited
        for name in FIELDS:
            if e.HasField(name):  # type: ignore[arg-type]
                _set(out, name, getattr(e, name), position)
        for tag in e.add_tags:
            _tag(out, tag, True, position)
        for tag in e.remove_tags:
            _tag(out, tag, False, position)
    else:
        raise ValueError(f"not a report event: {kind}")
    if position > out["position"]:
        out["position"], out["updated_at"] = position, at
    # what listings filter and sort by, kept beside the fields they come from
    out["tag_names"] = visible_tags(out)
    out["name_key"] = out["name"].casefold()
    return doc if doc is not None and out == doc else out  # seen before: unchanged


def apply_share(doc: Doc | None, event: events_pb2.Event) -> Doc:
    """A report document with one share event folded in: a share, once revoked, stays revoked."""
    out = _base(doc, event.workspace, event.experiment_id)
    shares = {k: dict(v) for k, v in out["shares"].items()}
    kind = event.WhichOneof("payload")
    if kind == "report_shared":
        s = event.report_shared
        entry = shares.get(s.share_id, {"revoked": False})
        entry.update(created_at=event.server_time, expires_at=s.expires_at, by_key=s.by_key)
        shares[s.share_id] = entry
    elif kind == "report_share_revoked":
        r = event.report_share_revoked
        shares[r.share_id] = {**shares.get(r.share_id, {}), "revoked": True}
    else:
        raise ValueError(f"not a share event: {kind}")
    if shares == out["shares"]:
        return doc if doc is not None else out
    out["shares"] = shares
    return out


def visible_tags(doc: Doc) -> list[str]:
    return sorted(t[0] for t in doc.get("tags", []) if t[2])


def status(doc: Doc) -> str:
    return "published" if doc.get("published") else "draft"


def apply_note(doc: Doc | None, event: events_pb2.Event, position: int) -> Doc:
    """The notes of a target (an experiment, or a project's note id): the newest text wins."""
    n = event.note_set
    target = event.experiment_id
    out: Doc = dict(doc) if doc is not None else {
        "_id": report_id_of(event.workspace, target), "workspace": event.workspace, "target": target,
        "text": "", "position": 0, "user": "", "updated_at": 0.0, "project": n.project,
    }  # fmt: skip
    if position <= out["position"]:
        return doc if doc is not None else out
    out.update(text=n.text, position=position, user=n.user, updated_at=event.server_time, project=n.project)
    return out
