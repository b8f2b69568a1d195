"""Artifact-store types and rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_KEY = 1024
_BAD_KEY = re.compile(r"[\x00-\x1f\x7f\\]")


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


def validate_key(key: str) -> str:
    """Object keys are relative paths: no empty, '.' or '..' segment, no control characters."""
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"key: must be 1..{MAX_KEY} characters")
    if _BAD_KEY.search(key):
        raise ValueError("key: must not contain control characters or backslashes")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError("key: must be a relative path without empty, '.' or '..' parts")
    return key
