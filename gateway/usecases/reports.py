"""Reports (ClearML's Reports) and notes (Comet's Notes): markdown write-ups with live widgets.

Every change is an event on the report's subject, published with the version it was made on
(JetStream's expected-last-subject-sequence), so a stale edit is refused atomically by the log —
``409`` naming the newer version — and every event on the log was accepted; the reporting
service folds them into MongoDB. A published report is locked: content edits answer ``409``.
Shares are signed links (``tls_…``) to one report, checked against the report's share list on
every read, so a revocation is immediate.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import grpc
from msgspec import UNSET
from tracklane_proto import events_pb2, reporting_pb2

from gateway import clients
from gateway import schemas as s
from gateway.embeds import sign, verify
from gateway.errors import ApiError
from gateway.state import GatewayState
from gateway.usecases.command_log import Published, StaleVersionError, publish, require_writer, wait_applied
from gateway.widget.spec import WidgetSpec, parse
from services.common.auth import WRITE_ROLES, Principal
from services.common.contract import REPORT_ID, note_target

SHARE_PREFIX = "tls_"
SHARE_ROLE = "share"
NEVER = 253_402_300_799.0  # 9999-12-31: a share without an expiry
DAY = 86_400.0
_CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`", re.DOTALL)  # shown as text, never drawn
_IFRAME = re.compile(r"<iframe\b[^>]*?\bsrc\s*=\s*(\"[^\"]*\"|'[^']*')", re.IGNORECASE)


def stale(given: int | None, current: int, what: str, then: str) -> ApiError:
    """409 for a change made on an older version, naming the newer one and what to do."""
    return ApiError(409, "conflict", f"version {given} is stale: the newest of {what} is {current}; {then}", "version")


def new_report_id() -> str:
    return "r" + uuid.uuid4().hex[:24]


def _require_reader(who: Principal) -> None:
    if who.anonymous:
        raise ApiError(401, "unauthenticated", "reports need an API key or a share link", "Authorization")


def _check_id(report_id: str) -> None:
    if not REPORT_ID.match(report_id):
        raise ApiError(404, "not_found", f"no report {report_id!r}", "report_id")


def _expiry(at: float) -> float | None:
    return None if at >= NEVER else at


def view(r: reporting_pb2.Report, *, full: bool, shares: bool) -> s.Report:
    out = s.Report(
        id=r.report_id, name=r.name, project=r.project, description=r.description, tags=list(r.tags),
        status="published" if r.status == "published" else "draft", archived=r.archived, user=r.user,
        created_at=r.created_at, updated_at=r.updated_at, version=r.version,
    )  # fmt: skip
    if full:
        out.body = r.body
    if shares:
        out.shares = [
            s.ReportShare(id=x.share_id, created_at=x.created_at, expires_at=_expiry(x.expires_at), revoked=x.revoked)
            for x in r.shares
        ]
    return out


async def _get(st: GatewayState, workspace: str, report_id: str) -> reporting_pb2.Report:
    _check_id(report_id)
    try:
        report: reporting_pb2.Report = await st.reporting.GetReport(
            reporting_pb2.GetReportRequest(workspace=workspace, report_id=report_id), timeout=10
        )
        return report
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise ApiError(404, "not_found", f"no report {report_id!r}", "report_id") from None
        raise


async def list_reports(st: GatewayState, who: Principal, q: s.ReportQuery) -> s.ReportPage:
    _require_reader(who)
    tags = [t.strip() for t in q.tags.split(",") if t.strip()]
    resp = await st.reporting.ListReports(
        reporting_pb2.ListReportsRequest(
            workspace=who.workspace, project=q.project, search=q.search, tags=tags, status=q.status,
            archived=q.archived, order_by=q.order_by, offset=q.page * q.page_size, limit=q.page_size,
        ),
        timeout=10,
    )  # fmt: skip
    return s.ReportPage(
        reports=[view(r, full=False, shares=False) for r in resp.reports], total=resp.total, page=q.page,
        page_size=q.page_size, projects=list(resp.projects),
    )  # fmt: skip


async def get_report(st: GatewayState, who: Principal, report_id: str) -> s.Report:
    _require_reader(who)
    return view(await _get(st, who.workspace, report_id), full=True, shares=who.role in WRITE_ROLES)


async def _answer(st: GatewayState, who: Principal, report_id: str, done: Published) -> s.Report | s.Accepted:
    if not await wait_applied(st.js, done.stream_seq, ("reporting",)):
        return s.Accepted(status="accepted", event_id=done.event_id)
    return await get_report(st, who, report_id)


async def _publish(
    st: GatewayState, who: Principal, report_id: str, cid: str, expect: int | None, **payload: object
) -> Published:
    try:
        return await publish(st.js, who.workspace, report_id, f"report.{report_id}.{cid}", expect=expect, **payload)
    except StaleVersionError as exc:
        raise stale(expect, exc.current, "the report", "reload it and apply your change again") from None


async def create_report(st: GatewayState, who: Principal, body: s.ReportCreate, cid: str) -> s.Report | s.Accepted:
    require_writer(who)
    report_id = new_report_id()
    created = events_pb2.ReportCreated(
        name=body.name, project=body.project, description=body.description, tags=body.tags, body=body.body,
        user=who.user, by_key=who.key_id,
    )  # fmt: skip
    done = await _publish(st, who, report_id, cid, 0, report_created=created)
    return await _answer(st, who, report_id, done)


def _unlocked(r: reporting_pb2.Report) -> None:
    if r.status == "published":
        raise ApiError(409, "conflict", "the report is published: it can no longer be edited", "status")


async def edit_report(
    st: GatewayState, who: Principal, report_id: str, body: s.ReportEdit, cid: str
) -> s.Report | s.Accepted:
    """Rename, describe, rewrite, tag, move: only the fields given change."""
    require_writer(who)
    _unlocked(await _get(st, who.workspace, report_id))
    fields = ("name", "description", "body", "project", "add_tags", "remove_tags")
    given = {name: getattr(body, name) for name in fields if getattr(body, name) is not UNSET}
    if not given:
        raise ApiError(400, "invalid_argument", f"nothing to change: send one of {', '.join(fields)}", "body")
    if all(name in ("add_tags", "remove_tags") and not value for name, value in given.items()):
        return await get_report(st, who, report_id)  # only empty tag lists: the report as it is
    edit = events_pb2.ReportEdited(by_key=who.key_id, user=who.user)
    for name, value in given.items():
        if name in ("add_tags", "remove_tags"):
            getattr(edit, name).extend(value)
        else:
            setattr(edit, name, value)
    done = await _publish(st, who, report_id, cid, body.version, report_edited=edit)
    return await _answer(st, who, report_id, done)


async def lifecycle(
    st: GatewayState, who: Principal, report_id: str, action: str, body: s.ReportCommand | None, cid: str
) -> s.Report | s.Accepted | None:
    """publish (locks it), archive, restore, delete (only from the Archive; permanent)."""
    require_writer(who)
    r = await _get(st, who.workspace, report_id)
    given = body.version if body is not None and body.version is not UNSET else None
    expect = given if given is not None else r.version
    edit = events_pb2.ReportEdited(by_key=who.key_id, user=who.user)
    if action == "publish":
        if r.status == "published":
            return view(r, full=True, shares=True)
        edit.published = True
    elif action in ("archive", "restore"):
        if r.archived == (action == "archive"):
            return view(r, full=True, shares=True)
        edit.archived = action == "archive"
    elif action == "delete":
        if not r.archived:
            raise ApiError(409, "conflict", "only an archived report can be deleted: archive it first", "archived")
        edit.deleted = True
    else:  # pragma: no cover - the routes name the actions
        raise ValueError(action)
    done = await _publish(st, who, report_id, cid, expect, report_edited=edit)
    if action == "delete":
        await wait_applied(st.js, done.stream_seq, ("reporting",))
        return None
    return await _answer(st, who, report_id, done)


# -- shares ---------------------------------------------------------------------------------------
async def share(st: GatewayState, who: Principal, report_id: str, body: s.ShareCreate, base_url: str) -> s.SharedLink:
    require_writer(who)
    await _get(st, who.workspace, report_id)
    share_id = secrets.token_hex(8)
    expires_at = NEVER if body.expires_in_days is None else float(int(time.time() + body.expires_in_days * DAY))
    shared = events_pb2.ReportShared(share_id=share_id, expires_at=expires_at, by_key=who.key_id)
    done = await publish(st.js, who.workspace, report_id, f"share.{share_id}", report_shared=shared)
    await wait_applied(st.js, done.stream_seq, ("reporting",))
    token = sign(st.embed_secret, who.workspace, f"{report_id}.{share_id}", expires_at, prefix=SHARE_PREFIX)
    return s.SharedLink(
        id=share_id, token=token, url=f"{base_url.rstrip('/')}/shared/{token}",
        expires_at=_expiry(expires_at),
    )  # fmt: skip


async def revoke_share(st: GatewayState, who: Principal, report_id: str, body: s.ShareRef) -> s.Report | s.Accepted:
    require_writer(who)
    r = await _get(st, who.workspace, report_id)
    if all(x.share_id != body.id for x in r.shares):
        raise ApiError(404, "not_found", f"report {report_id} has no share {body.id}", "id")
    revoked = events_pb2.ReportShareRevoked(share_id=body.id, by_key=who.key_id)
    done = await publish(st.js, who.workspace, report_id, f"share.{body.id}.revoked", report_share_revoked=revoked)
    return await _answer(st, who, report_id, done)


@dataclass(frozen=True)
class SharedReport:
    workspace: str
    share_id: str
    report: reporting_pb2.Report


async def open_share(st: GatewayState, token: str) -> SharedReport:
    """The report a share link opens; 401 when the link is forged, expired or revoked."""
    claims = verify(st.embed_secret, token, prefix=SHARE_PREFIX, what="share link")
    report_id, _, share_id = claims.embed_id.partition(".")
    gone = ApiError(401, "unauthenticated", "this share link was revoked: ask its owner for a new one", "token")
    try:
        r = await _get(st, claims.workspace, report_id)
    except ApiError:
        raise gone from None
    if not any(x.share_id == share_id and not x.revoked for x in r.shares):
        raise gone
    return SharedReport(claims.workspace, share_id, r)


async def shared_report(st: GatewayState, token: str) -> s.Report:
    return view((await open_share(st, token)).report, full=True, shares=False)


def widgets_of(markdown: str) -> list[WidgetSpec]:
    """The widgets a report shows: every ``<iframe src=".../widget/?…">`` of its body."""
    out = []
    for match in _IFRAME.finditer(_CODE.sub("", markdown)):
        url = urlsplit(unescape(match.group(1)[1:-1]))
        if not url.path.endswith("/widget/"):
            continue
        try:
            out.append(parse(parse_qsl(url.query, keep_blank_values=True)))
        except ApiError:
            continue
    return out


def _shows(asked: WidgetSpec, shown: WidgetSpec) -> bool:
    """The widget asked for is one the report shows: its objects (or query), kind, metrics and
    variants; how it is drawn (theme, x axis, iteration) is the reader's choice."""
    return asked.covered_by(shown.scope()) and (asked.type, asked.metrics, asked.variants) == (
        shown.type,
        shown.metrics,
        shown.variants,
    )


async def share_reader(st: GatewayState, token: str, spec: WidgetSpec) -> Principal:
    """Who reads a widget through a share link: the report's workspace, for exactly the widgets
    the report shows (the same objects, or the same dynamic query)."""
    shared = await open_share(st, token)
    if not any(_shows(spec, w) for w in widgets_of(shared.report.body)):
        raise ApiError(403, "forbidden", "this share link covers only the widgets of its report", "token")
    return Principal(shared.workspace, SHARE_ROLE, f"share:{shared.share_id}")


# -- notes ----------------------------------------------------------------------------------------
def _note_target(project: str | None, experiment: str | None) -> str:
    return experiment if experiment is not None else note_target(project or "")


async def get_note(
    st: GatewayState, who: Principal, *, project: str | None = None, experiment: str | None = None
) -> s.Note:
    """The notes of a project or of an experiment (version 0 and no text before any)."""
    _require_reader(who)
    if experiment is not None:
        await clients.experiment(st, who, experiment)  # 404 unless it is this workspace's
    target = _note_target(project, experiment)
    n = await st.reporting.GetNote(reporting_pb2.GetNoteRequest(workspace=who.workspace, target=target), timeout=10)
    return s.Note(text=n.text, version=n.version, user=n.user, updated_at=n.updated_at or None)


async def set_note(
    st: GatewayState,
    who: Principal,
    version: int,
    text: str,
    cid: str,
    *,
    project: str | None = None,
    experiment: str | None = None,
) -> s.Note | s.Accepted:
    require_writer(who)
    if experiment is not None:
        await clients.experiment(st, who, experiment)
    target = _note_target(project, experiment)
    try:
        done = await publish(
            st.js,
            who.workspace,
            target,
            f"note.{target}.{cid}",
            expect=version,
            note_set=events_pb2.NoteSet(project=project or "", text=text, by_key=who.key_id, user=who.user),
        )
    except StaleVersionError as exc:
        raise stale(version, exc.current, "the notes", "reload them") from None
    if not await wait_applied(st.js, done.stream_seq, ("reporting",)):
        return s.Accepted(status="accepted", event_id=done.event_id)
    return await get_note(st, who, project=project, experiment=experiment)
