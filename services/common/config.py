"""Environment-only configuration: typed readers that fail fast and secrets that never print.

Every setting Tracklane reads is listed in the README's settings table; each service reads its
settings once at start into a frozen dataclass (its ``settings.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Secret:
    """A string that shows as ``Secret('**********')`` in logs, reprs and tracebacks."""

    _value: str

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def reveal(self) -> str:
        """The secret itself, for the one place that must use it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)


class Env:
    """Reads ``TRACKLANE_*`` variables from a mapping (the process environment by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def text(self, name: str, default: str) -> str:
        return self._environ.get(name, default).strip() or default

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def secret(self, name: str) -> Secret:
        return Secret(self._environ.get(name, "").strip())

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
        raw = self._environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a whole number") from None
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name}={value} is outside {minimum}..{maximum}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self._environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if value < minimum:
            raise ConfigError(f"{name}={value} is below {minimum}")
        return value

    def address(self, name: str, default: str) -> str:
        """A ``host:port`` pair."""
        value = self.text(name, default)
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}={value!r} is not host:port")
        return value

    def path(self, name: str, default: Path) -> Path:
        raw = self.optional(name)
        return Path(raw).expanduser().resolve() if raw else default.resolve()

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
        return value


@dataclass(frozen=True)
class CommonSettings:
    """Settings every process shares: where the data lives, the bus, and the peers' addresses."""

    data_dir: Path
    nats_url: str
    nats_replicas: int
    ingestion_addr: str
    metrics_addr: str
    metadata_addr: str
    artifact_addr: str
    reporting_addr: str
    gateway_addr: str
    log_level: str
    log_format: str
    shutdown_grace: float
    key_cache_ttl: float
    # Debug samples kept per metric/variant: the artifact service deletes older objects, the
    # metrics service's index shows only these.
    debug_sample_retention: int = 100
    # A replica rebuilding a read model (``replay``) renews its claim within this; after it, a
    # crashed one's replay is taken over and resumed by another replica or its restart.
    replay_lease_s: float = 30.0
    # Archived events a replay feeds its projection at once (its progress is saved between them).
    replay_batch: int = 500

    @classmethod
    def from_env(cls, env: Env | None = None) -> CommonSettings:
        env = env or Env()
        return cls(
            data_dir=env.path("TRACKLANE_DATA_DIR", Path(".tracklane")),
            nats_url=env.text("TRACKLANE_NATS_URL", "nats://127.0.0.1:4222"),
            # copies of the event stream a JetStream cluster keeps (3 in the prod overlay)
            nats_replicas=env.integer("TRACKLANE_NATS_REPLICAS", 1, minimum=1, maximum=5),
            ingestion_addr=env.address("TRACKLANE_INGESTION_ADDR", "127.0.0.1:50051"),
            metrics_addr=env.address("TRACKLANE_METRICS_ADDR", "127.0.0.1:50052"),
            metadata_addr=env.address("TRACKLANE_METADATA_ADDR", "127.0.0.1:50053"),
            artifact_addr=env.address("TRACKLANE_ARTIFACT_ADDR", "127.0.0.1:50054"),
            reporting_addr=env.address("TRACKLANE_REPORTING_ADDR", "127.0.0.1:50055"),
            gateway_addr=env.address("TRACKLANE_GATEWAY_ADDR", "127.0.0.1:8080"),
            log_level=env.choice("TRACKLANE_LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
            log_format=env.choice("TRACKLANE_LOG_FORMAT", "json", ("json", "console")),
            shutdown_grace=env.number("TRACKLANE_SHUTDOWN_GRACE", 10.0),
            key_cache_ttl=env.number("TRACKLANE_KEY_CACHE_TTL", 10.0),
            debug_sample_retention=env.integer("TRACKLANE_DEBUG_SAMPLE_RETENTION", 100, minimum=1, maximum=100_000),
            replay_lease_s=env.number("TRACKLANE_REPLAY_LEASE_S", 30.0),
            replay_batch=env.integer("TRACKLANE_REPLAY_BATCH", 500, minimum=1, maximum=100_000),
        )
