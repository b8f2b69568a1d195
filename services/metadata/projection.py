"""Lifecycle and scalar events -> experiment documents and projects in MongoDB, and the rows of
the experiment table index (ClickHouse).

The events of one fetched batch are folded per experiment into one optimistic write, so a busy
experiment costs one MongoDB round trip per batch, not per event, and the batch's experiments
one insert into the index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import structlog
from prometheus_client import Counter
from tracklane_proto import events_pb2

from services.common.contract import KIND_OF_PAYLOAD
from services.common.events import ScalarColumns
from services.common.projections import Positioned
from services.metadata import domain
from services.metadata.store import MetadataStore

log = structlog.get_logger()
EVENTS = Counter("tracklane_metadata_events_projected_total", "Events applied to MongoDB", ["kind"])

Change = Callable[[domain.Doc | None], domain.Doc]


def _ms(t: float) -> float:
    """A time of a project, workspace, key, member, view or embed, to the millisecond: a value
    every MongoDB-wire engine stores exactly (nx-27017 keeps 15 significant digits of a number in
    a document it updates, 17 in one it inserts), so a document's times do not depend on how often
    it was written — live, or in a replay's larger batches."""
    return round(t, 3)


class MetadataProjection:
    """Experiment documents, projects, workspaces, members, keys and embed grants. Its consumer
    and kinds: ``REGISTRY["metadata"]``."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    async def handle(self, batch: Sequence[Positioned]) -> None:
        changes: dict[str, list[Change]] = defaultdict(list)
        projects: list[tuple[str, str, float]] = []
        seen: dict[str, tuple[float, str]] = {}  # experiment -> (latest client event, workspace)
        for item in batch:
            event = item.event
            if KIND_OF_PAYLOAD.get(event.WhichOneof("payload") or "") == "access":
                # Access events are rare; apply them one by one, in order, before the batch's
                # experiment changes.
                await self._apply_access(event, item.position)
                continue
            change = self._change_for(event, item.position)
            if change is None:
                continue
            changes[event.experiment_id].append(change)
            if event.seq > 0 or event.WhichOneof("payload") == "experiment_created":
                # from the client itself (commands from people carry seq 0): it is alive
                latest = max(seen.get(event.experiment_id, (0.0, ""))[0], event.server_time)
                seen[event.experiment_id] = (latest, event.workspace)
            if event.WhichOneof("payload") == "experiment_created":
                projects.append((event.workspace, event.experiment_created.project, _ms(event.server_time)))
            if event.WhichOneof("payload") == "experiment_edited" and event.experiment_edited.HasField("project"):
                projects.append((event.workspace, event.experiment_edited.project, _ms(event.server_time)))

        for workspace, path, at in projects:
            await self.store.touch_project(workspace, path, at)
        for experiment_id, (at, workspace) in seen.items():  # one sign of life per experiment and batch
            changes[experiment_id].append(_alive(experiment_id, workspace, at))
        docs = [
            await self.store.mutate_experiment(experiment_id, _compose(fns)) for experiment_id, fns in changes.items()
        ]
        # the table index in one insert, before the batch is acknowledged
        await self.store.index_experiments(docs)
        columns: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
        for doc in docs:
            if doc.get("created") and not doc.get("cleared"):
                columns[doc["workspace"], doc["project"]] |= domain.column_names(doc)
        for (workspace, project), names in columns.items():
            await self.store.note_columns(workspace, project, names)

    async def _apply_access(self, event: events_pb2.Event, stream_seq: int) -> None:
        kind = event.WhichOneof("payload")
        ws, at = event.workspace, _ms(event.server_time)
        EVENTS.labels(kind or "none").inc()
        if kind == "workspace_created":
            created = event.workspace_created
            await self.store.ensure_workspace(ws, created.name, at)
            if created.owner:
                owner = created.owner
                await self.store.mutate_member(
                    ws, owner, lambda d: domain.apply_member(d, ws, owner, "admin", at, stream_seq)
                )
            key = created.admin_key
            await self.store.mutate_key(key.key_id, lambda d: domain.apply_key_created(d, ws, key, at, stream_seq))
        elif kind == "key_created":
            kc = event.key_created
            await self.store.mutate_key(kc.key_id, lambda d: domain.apply_key_created(d, ws, kc, at, stream_seq))
        elif kind == "key_rotated":
            kr = event.key_rotated
            await self.store.mutate_key(kr.key_id, lambda d: domain.apply_key_rotated(d, ws, kr, at, stream_seq))
        elif kind == "key_revoked":
            kv = event.key_revoked
            await self.store.mutate_key(kv.key_id, lambda d: domain.apply_key_revoked(d, ws, kv, at, stream_seq))
        elif kind == "member_set":
            ms = event.member_set
            await self.store.mutate_member(
                ws, ms.user, lambda d: domain.apply_member(d, ws, ms.user, ms.role, at, stream_seq)
            )
        elif kind == "member_removed":
            mr = event.member_removed
            await self.store.mutate_member(
                ws, mr.user, lambda d: domain.apply_member(d, ws, mr.user, None, at, stream_seq)
            )
        elif kind == "workspace_edited":
            we = event.workspace_edited
            await self.store.mutate_workspace(ws, lambda d: domain.apply_workspace_edited(d, ws, we, at, stream_seq))
        elif kind == "embed_created":
            ec = event.embed_created
            await self.store.mutate_embed(ec.embed_id, lambda d: domain.apply_embed_created(d, ws, ec, at))
        elif kind == "embed_revoked":
            er = event.embed_revoked
            await self.store.mutate_embed(er.embed_id, lambda d: domain.apply_embed_revoked(d, ws, er.embed_id))
        elif kind == "view_saved":
            vs = event.view_saved
            await self.store.mutate_view(
                ws, vs.project, vs.name,
                lambda d: domain.apply_view(d, ws, vs.project, vs.name, vs.state, vs.user, at, stream_seq),
            )  # fmt: skip
            if vs.make_default:
                await self.store.mutate_project(
                    ws, vs.project, lambda d: domain.apply_default_view(d, ws, vs.project, vs.name, at, stream_seq)
                )
        elif kind == "view_deleted":
            vd = event.view_deleted
            await self.store.mutate_view(
                ws,
                vd.project,
                vd.name,
                lambda d: domain.apply_view(d, ws, vd.project, vd.name, None, "", at, stream_seq),
            )
            await self.store.mutate_project(
                ws, vd.project,
                lambda d: domain.apply_default_view(d, ws, vd.project, None, at, stream_seq, only_if=vd.name),
            )  # fmt: skip
        elif kind == "view_default_set":
            vds = event.view_default_set
            await self.store.mutate_project(
                ws, vds.project, lambda d: domain.apply_default_view(d, ws, vds.project, vds.name, at, stream_seq)
            )
        elif kind == "project_edited":
            pe = event.project_edited
            await self.store.touch_project(ws, pe.project, at)
            await self.store.mutate_project(
                ws, pe.project, lambda d: domain.apply_project_edited(d, ws, pe, at, stream_seq)
            )

    def _change_for(self, event: events_pb2.Event, stream_seq: int) -> Change | None:
        kind = event.WhichOneof("payload")
        exp, ws, seq, at = event.experiment_id, event.workspace, event.seq, event.server_time
        if kind == "experiment_created":
            payload = event.experiment_created
            EVENTS.labels("experiment_created").inc()
            return lambda doc: domain.apply_created(doc, exp, ws, payload, at, stream_seq)
        if kind == "status_changed":
            sc = event.status_changed
            status = domain.STATUS_NAMES.get(sc.status, "unspecified")
            EVENTS.labels("status_changed").inc()
            return lambda doc: domain.apply_status(doc, exp, ws, seq, status, sc.reason, sc.at)
        if kind == "experiment_cleared":
            EVENTS.labels("experiment_cleared").inc()
            return lambda doc: domain.apply_cleared(doc, exp, ws, at)
        if kind == "experiment_edited":
            edit = event.experiment_edited
            EVENTS.labels("experiment_edited").inc()
            return lambda doc: domain.apply_edited(doc, exp, ws, edit, at, stream_seq)
        if kind == "client_alive":
            return lambda doc: domain.apply_alive(doc, exp, ws, at)
        if kind == "stop_requested":
            EVENTS.labels(kind).inc()
            return lambda doc: domain.apply_stop_requested(doc, exp, ws, stream_seq)
        if kind == "params_set":
            ps = event.params_set
            EVENTS.labels(kind).inc()
            return lambda doc: domain.apply_params(doc, exp, ws, ps, stream_seq)
        if kind == "configuration_set":
            cs = event.configuration_set
            EVENTS.labels(kind).inc()
            return lambda doc: domain.apply_configuration(doc, exp, ws, cs, stream_seq)
        if kind == "properties_set":
            pr = event.properties_set
            EVENTS.labels(kind).inc()
            return lambda doc: domain.apply_properties(doc, exp, ws, pr, stream_seq)
        if kind == "execution_reported":
            execution = execution_doc(event.execution_reported)
            EVENTS.labels(kind).inc()
            return lambda doc: domain.apply_execution(doc, exp, ws, execution, stream_seq)
        if kind == "artifact_registered":
            record = artifact_doc(event.artifact_registered, at)
            EVENTS.labels(kind).inc()
            return lambda doc: domain.apply_artifact(doc, exp, ws, record, stream_seq)
        if kind == "scalars":
            try:
                summaries = domain.summarize(ScalarColumns.decode(event.scalars))
            except ValueError as exc:
                log.error("projection.bad_event", event_id=event.event_id, error=str(exc))
                return None
            EVENTS.labels("scalars").inc()
            return lambda doc: domain.apply_scalars(doc, exp, ws, seq, summaries, at)
        return None


def _alive(experiment_id: str, workspace: str, at: float) -> Change:
    return lambda doc: domain.apply_alive(doc, experiment_id, workspace, at)


def _pairs(entries: Mapping[str, str]) -> list[domain.Doc]:
    """Maps become lists of pairs in documents: their keys may hold dots or dollars."""
    return [{"key": k, "value": v} for k, v in sorted(entries.items())]


def execution_doc(ex: events_pb2.ExecutionReported) -> domain.Doc:
    doc: domain.Doc = {name: getattr(ex, name) for name in EXECUTION_TEXT}
    doc["environment"] = _pairs(ex.environment)
    doc["runtime"] = _pairs(ex.runtime)
    return doc


EXECUTION_TEXT = ("repository", "branch", "commit", "diff", "entry_point", "working_dir", "packages", "python", "argv")


def artifact_doc(art: events_pb2.ArtifactRegistered, at: float) -> domain.Doc:
    return {
        "name": art.name,
        "kind": art.kind,
        "type": art.type,
        "framework": art.framework,
        "input": art.input,
        "preview": art.preview,
        "metadata": _pairs(art.metadata),
        "key": art.file.key,
        "size": art.file.size,
        "sha256": art.file.sha256,
        "content_type": art.file.content_type,
        "registered_at": at,
    }


def _compose(fns: list[Change]) -> Change:
    def run(doc: domain.Doc | None) -> domain.Doc:
        for fn in fns:
            doc = fn(doc)
        assert doc is not None
        return doc

    return run
