"""Reading one experiment's reported details: configuration, execution, artifacts and models
(with download links and previews), console lines, plots and debug samples."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, TypeVar

from tracklane_proto import artifact_pb2, metadata_pb2, metrics_pb2

from gateway import clients, views
from gateway import schemas as s
from gateway.errors import ApiError
from gateway.state import GatewayState
from services.common.auth import Principal

DOWNLOAD_PAGE = 5_000
FileKind = Literal["artifact", "model"]


async def configuration(st: GatewayState, who: Principal, experiment_id: str) -> s.Configuration:
    return views.configuration(experiment_id, await clients.details(st, who, experiment_id))


async def execution(st: GatewayState, who: Principal, experiment_id: str) -> s.Execution:
    return views.execution(experiment_id, await clients.details(st, who, experiment_id))


async def files(st: GatewayState, who: Principal, experiment_id: str, kind: FileKind) -> list[s.Artifact]:
    """The artifacts (or models) with their audit records and download links."""
    d = await clients.details(st, who, experiment_id)
    records = [r for r in d.artifacts if r.artifact.kind == kind]
    links = await clients.download_links(st, [(d.workspace, experiment_id, r.artifact.file.key) for r in records])
    return [views.artifact(experiment_id, r, link) for r, link in zip(records, links, strict=True)]


async def preview(
    st: GatewayState, who: Principal, experiment_id: str, kind: FileKind, name: str, max_bytes: int
) -> s.Preview:
    """The first bytes of a text-like artifact or model file (csv, json, yaml, md, txt, py, log)."""
    d = await clients.details(st, who, experiment_id)
    found = next((r.artifact for r in d.artifacts if r.artifact.kind == kind and r.artifact.name == name), None)
    if found is None:
        raise ApiError(404, "not_found", f"no {kind} named {name!r} in experiment {experiment_id}", "name")
    p = await st.artifacts.Preview(
        artifact_pb2.PreviewRequest(
            workspace=d.workspace, experiment_id=experiment_id, key=found.file.key, max_bytes=max_bytes
        ),
        timeout=10,
    )
    if not p.previewable:
        raise ApiError(415, "not_previewable", f"{found.file.key} is not a text type; download it instead", "name")
    return s.Preview(name=name, key=found.file.key, text=p.text, truncated=p.truncated)


async def console(st: GatewayState, who: Principal, experiment_id: str, q: s.ConsoleQuery) -> s.Console:
    """``after``/``limit`` page forward; ``tail`` is the last N lines; ``search`` keeps lines
    containing a text."""
    experiment = await clients.experiment(st, who, experiment_id)
    page = await st.metrics.ReadConsole(
        metrics_pb2.ConsoleRequest(
            workspace=experiment.workspace,
            experiment_id=experiment_id,
            after=q.after,
            limit=q.tail or q.limit,
            tail=bool(q.tail),
            search=q.search,
        ),
        timeout=30,
    )
    lines = [views.console_line(ln) for ln in page.lines]
    return s.Console(
        experiment_id=experiment_id,
        lines=lines,
        total=page.total,
        more=page.more,
        next_after=lines[-1].cursor if lines else q.after,
    )


async def console_text(st: GatewayState, who: Principal, experiment_id: str, search: str) -> AsyncIterator[bytes]:
    """The whole log (or the lines containing ``search``) as text, a page at a time. Checks the
    caller before the first byte, so a refusal is an error answer, not a broken download."""
    experiment = await clients.experiment(st, who, experiment_id)

    async def lines() -> AsyncIterator[bytes]:
        after = 0
        while True:
            page = await st.metrics.ReadConsole(
                metrics_pb2.ConsoleRequest(
                    workspace=experiment.workspace, experiment_id=experiment_id, after=after, limit=DOWNLOAD_PAGE,
                    search=search,
                ),
                timeout=30,
            )  # fmt: skip
            if page.lines:
                yield "".join(ln.text + "\n" for ln in page.lines).encode()
                after = page.lines[-1].cursor
            if not page.more:
                return

    return lines()


Q = TypeVar("Q", metrics_pb2.PlotsRequest, metrics_pb2.DebugSamplesRequest)


async def _by_iteration(
    st: GatewayState, who: Principal, experiment_id: str, q: s.ByIterationQuery, query: Q
) -> tuple[metadata_pb2.Experiment, Q]:
    """The experiment (404 unless readable) and ``query`` filled from metric, variant, iteration."""
    experiment = await clients.experiment(st, who, experiment_id)
    query.workspace, query.experiment_id = experiment.workspace, experiment_id
    query.metric, query.variant = q.metric, q.variant
    if q.iteration is not None:
        query.iteration = q.iteration
    return experiment, query


async def plots(st: GatewayState, who: Principal, experiment_id: str, q: s.PlotsQuery) -> s.Plots:
    """The latest plot of each metric/variant, or those at ``iteration``, or (``history``) each
    one's newest iterations."""
    _, query = await _by_iteration(st, who, experiment_id, q, metrics_pb2.PlotsRequest(history=q.history))
    resp = await st.metrics.GetPlots(query, timeout=30)
    return s.Plots(experiment_id=experiment_id, plots=[views.plot(p) for p in resp.plots])


async def samples(st: GatewayState, who: Principal, experiment_id: str, q: s.ByIterationQuery) -> s.Samples:
    """Per metric/variant, the sample at ``iteration`` (else the latest) with a download link and
    the previous/next stored iterations."""
    experiment, query = await _by_iteration(st, who, experiment_id, q, metrics_pb2.DebugSamplesRequest())
    resp = await st.metrics.GetDebugSamples(query, timeout=30)
    links = await clients.download_links(st, [(experiment.workspace, experiment_id, x.key) for x in resp.samples])
    return s.Samples(
        experiment_id=experiment_id,
        samples=[views.sample(x, link) for x, link in zip(resp.samples, links, strict=True)],
    )
