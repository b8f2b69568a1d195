"""Views: the services' answers as the API's types (``gateway.schemas``), in one place. Every
surface renders experiments, projects, keys and details through these."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable

from tracklane_proto import artifact_pb2, metadata_pb2, metrics_pb2

from gateway import schemas as s
from gateway.respond import finite
from services.common.auth import Principal
from services.common.contract import STATUS_NAMES

LEVELS = {1: "debug", 2: "info", 3: "warning", 4: "error", 5: "critical"}
SOURCES = {0: "log", 1: "stdout", 2: "stderr"}


real = finite  # NaN and ±Infinity, as the API answers them


def reals(values: Iterable[float]) -> list[float | str]:
    out: list[float | str] = list(values)
    # one sum in C tells whether any value is NaN or infinite (or the total overflows: then the
    # values are looked at one by one, which is right as well)
    return out if math.isfinite(sum(out)) else [real(float(v)) for v in out]  # type: ignore[arg-type]


def status_name(e: metadata_pb2.Experiment) -> str:
    return STATUS_NAMES.get(e.status, "unspecified")


def metric(m: metadata_pb2.MetricSummary) -> s.MetricSummary:
    return s.MetricSummary(
        metric=m.metric,
        variant=m.variant,
        last=real(m.last),
        min=real(m.min),
        max=real(m.max),
        last_iteration=m.last_iteration,
    )


def experiment(e: metadata_pb2.Experiment) -> s.Experiment:
    out = s.Experiment(
        id=e.id,
        project=e.project,
        name=e.name,
        tags=list(e.tags),
        user=e.user,
        status=status_name(e),  # type: ignore[arg-type]
        status_reason=e.status_reason,
        description=e.description,
        archived=e.archived,
        published=e.published,
        deleted=e.deleted,
        stop_requested=e.stop_requested,
        last_seen=e.last_seen or None,
        created_at=e.created_at,
        started_at=e.started_at,
        updated_at=e.updated_at,
        ended_at=e.ended_at or None,
        metrics=[metric(m) for m in e.metrics],
    )
    if e.columns:
        out.columns = {k: json.loads(v) for k, v in e.columns.items()}
    return out


def project(p: metadata_pb2.Project) -> s.Project:
    return s.Project(
        path=p.path,
        name=p.path.rpartition("/")[2],
        parent=p.path.rpartition("/")[0] or None,
        description=p.description,
        public=p.public,
        experiments=p.experiments,
        archived_experiments=p.archived_experiments,
        created_at=p.created_at,
        last_update=p.last_update,
    )


def series(r: metrics_pb2.ScalarSeries) -> s.Series:
    return s.Series(
        metric=r.metric,
        variant=r.variant,
        total_points=r.total_points,
        downsampled=r.downsampled,
        x=list(r.x),
        min=reals(r.min),
        max=reals(r.max),
        mean=reals(r.mean),
        last=reals(r.last),
        count=list(r.count),
    )


def configuration(experiment_id: str, d: metadata_pb2.ExperimentDetails) -> s.Configuration:
    return s.Configuration(
        experiment_id=experiment_id,
        hyperparameters=[
            s.Section(
                section=sec.section,
                params=[
                    s.Param(name=p.name, value=p.value, type=p.type, description=p.description) for p in sec.params
                ],
            )
            for sec in d.hyperparameters
        ],
        configurations=[
            s.ConfigurationObject(name=c.name, content_type=c.content_type, description=c.description, text=c.text)
            for c in d.configurations
        ],
        properties=dict(sorted(d.properties.items())),
    )


def execution(experiment_id: str, d: metadata_pb2.ExperimentDetails) -> s.Execution:
    ex = d.execution
    return s.Execution(
        experiment_id=experiment_id,
        repository=ex.repository,
        branch=ex.branch,
        commit=ex.commit,
        diff=ex.diff,
        entry_point=ex.entry_point,
        working_dir=ex.working_dir,
        argv=ex.argv,
        python=ex.python,
        packages=ex.packages.splitlines(),
        environment=dict(sorted(ex.environment.items())),
        runtime=dict(sorted(ex.runtime.items())),
    )


def artifact(experiment_id: str, record: metadata_pb2.ArtifactRecord, link: artifact_pb2.PresignedUrl) -> s.Artifact:
    a = record.artifact
    out = s.Artifact(
        name=a.name,
        type=a.type,
        key=a.file.key,
        size=a.file.size,
        sha256=a.file.sha256,
        content_type=a.file.content_type,
        metadata=dict(sorted(a.metadata.items())),
        registered_at=record.registered_at,
        url=link.url,
        url_expires_at=link.expires_at,
        preview=a.preview,
        preview_url=f"/api/v1/experiments/{experiment_id}/{a.kind}s/{a.name}/preview",
    )
    if a.kind == "model":
        out.framework, out.input, out.direction = a.framework, a.input, "input" if a.input else "output"
    return out


def console_line(ln: metrics_pb2.ConsoleLine) -> s.ConsoleLine:
    return s.ConsoleLine(
        cursor=ln.cursor,
        ts=ln.ts,
        level=LEVELS.get(ln.level, str(ln.level)),
        source=SOURCES.get(ln.source, str(ln.source)),
        text=ln.text,
    )


def plot(p: metrics_pb2.Plot) -> s.Plot:
    return s.Plot(
        metric=p.metric,
        variant=p.variant,
        iteration=p.iteration,
        kind=p.kind,
        figure=json.loads(p.figure_json),
        ts=p.ts,
        iterations=p.iterations,
        stored_iterations=list(p.stored_iterations),
    )


def sample(x: metrics_pb2.DebugSampleEntry, link: artifact_pb2.PresignedUrl) -> s.Sample:
    return s.Sample(
        metric=x.metric,
        variant=x.variant,
        iteration=x.iteration,
        kind=x.kind,
        key=x.key,
        size=x.size,
        sha256=x.sha256,
        content_type=x.content_type,
        ts=x.ts,
        url=link.url,
        previous_iteration=x.previous_iteration if x.HasField("previous_iteration") else None,
        next_iteration=x.next_iteration if x.HasField("next_iteration") else None,
        iterations=x.iterations,
        stored_iterations=list(x.stored_iterations),
    )


def api_key(k: metadata_pb2.ApiKey) -> s.ApiKey:
    return s.ApiKey(
        id=k.key_id,
        name=k.name,
        user=k.user or None,
        role=k.role,
        created_at=k.created_at,
        rotated_at=k.rotated_at or None,
        revoked=k.revoked,
    )


def workspace(ws: metadata_pb2.Workspace, who: Principal) -> s.Workspace:
    return s.Workspace(
        id=ws.id,
        name=ws.name,
        role=who.role,
        user=who.user or None,
        embed_origins=list(ws.embed_origins) if ws.embed_origins_set else None,
    )


def member(m: metadata_pb2.Member) -> s.Member:
    return s.Member(user=m.user, role=m.role, added_at=m.added_at, updated_at=m.updated_at)


def embed(e: metadata_pb2.Embed) -> s.Embed:
    return s.Embed(
        id=e.embed_id,
        name=e.name,
        scope=json.loads(e.scope_json),
        expires_at=e.expires_at,
        expired=e.expires_at <= time.time(),
        revoked=e.revoked,
        created_at=e.created_at,
        created_by=e.created_by,
    )
