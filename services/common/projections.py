"""Projections and the registry that names them.

A projection turns events into a read model. It consumes ``(event, position)`` pairs —
:class:`Positioned` — never transport messages: the bus adapts JetStream messages to them
(``bus.consume``), tests feed lists, and a replay feeds the archive. ``position`` is the
event's place in the log (its JetStream stream sequence), which totally orders everything and
is what last-writer-wins rules compare.

:data:`REGISTRY` is the one place that says, per projection, which durable consumer it reads
through, which event kinds it takes, and which class handles them. The services start their
consumers from it, the gateway's read-your-writes wait looks up the consumer to wait for in it,
and the tests check it against the handlers.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tracklane_proto import events_pb2

from services.common.contract import KINDS, kind_filter


@dataclass(frozen=True)
class Positioned:
    """One event and its position in the log. ``redelivered``: it may have been applied before, in
    part (the log delivers it again after a crash or a failed batch; a resumed replay feeds a
    batch again): a projection whose store can keep a token without its rows checks it."""

    event: events_pb2.Event
    position: int
    redelivered: bool = False


class Projection(Protocol):
    """Applies a batch of events, in log order, idempotently: a batch seen again (after a crash,
    a redelivery or a replay) leaves the read model as it was."""

    async def handle(self, batch: Sequence[Positioned]) -> None: ...


@dataclass(frozen=True)
class ProjectionSpec:
    name: str
    durable: str  # the JetStream durable consumer shared by the service's replicas
    kinds: tuple[str, ...]  # event kinds (the subject's last token) it consumes
    handler: str  # "module:Class" of the projection

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"projection {self.name}: unknown kinds {sorted(unknown)}")

    @property
    def filter_subjects(self) -> list[str]:
        return [kind_filter(k) for k in self.kinds]

    def handler_class(self) -> type:
        """The projection's class (imported on demand: this module imports no service)."""
        module, _, name = self.handler.partition(":")
        cls: type = getattr(importlib.import_module(module), name)
        return cls


REGISTRY: dict[str, ProjectionSpec] = {
    spec.name: spec
    for spec in (
        ProjectionSpec(
            "metadata",
            "metadata",
            ("lifecycle", "scalars", "edit", "access", "meta", "files", "alive", "control"),
            "services.metadata.projection:MetadataProjection",
        ),
        ProjectionSpec(
            "metrics",
            "metrics-scalars",
            ("scalars", "lifecycle", "console", "plots", "files"),
            "services.metrics.projection:ScalarProjection",
        ),
        ProjectionSpec(
            "artifact",
            "artifact",
            ("files", "lifecycle"),
            "services.artifact.projection:FileProjection",
        ),
        ProjectionSpec(
            "reporting",
            "reporting",
            ("report", "share", "note"),
            "services.reporting.projection:ReportingProjection",
        ),
    )
}
