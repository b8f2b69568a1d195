"""Artifact-store types and rules."""

from __future__ import annotations

from dataclasses import dataclass, field


class ObjectNotFoundError(KeyError):
    """No object under that key."""


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows of an object: the data-audit record."""

    key: str
    size: int
    sha256: str
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
