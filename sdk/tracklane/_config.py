"""Where the SDK finds the server and its API key, without any set-up in the script.

Order: arguments to :func:`tracklane.init`, then ``TRACKLANE_SERVER`` / ``TRACKLANE_API_KEY``,
then the credentials file that ``make up`` writes (``~/.config/tracklane/credentials.json``,
or ``$TRACKLANE_CONFIG_DIR/credentials.json``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SERVER = "127.0.0.1:50051"
DEFAULT_GATEWAY = "http://127.0.0.1:8080"


def config_dir() -> Path:
    return Path(os.environ.get("TRACKLANE_CONFIG_DIR") or Path.home() / ".config" / "tracklane")


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


@dataclass(frozen=True)
class ClientConfig:
    server: str
    api_key: str

    def __repr__(self) -> str:  # never print the key
        return f"ClientConfig(server={self.server!r}, api_key='***')"


def cache_dir() -> Path:
    """Spill journals and offline experiments: ``$TRACKLANE_CACHE_DIR`` or ~/.cache/tracklane."""
    return Path(os.environ.get("TRACKLANE_CACHE_DIR") or Path.home() / ".cache" / "tracklane")


def memory_limit() -> int:
    """Bytes of unacknowledged batches kept in memory before the sender spills to disk."""
    return int(float(os.environ.get("TRACKLANE_MEMORY_LIMIT_MB") or 64) * 1024 * 1024)


def offline() -> bool:
    return os.environ.get("TRACKLANE_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def capture_env() -> list[str]:
    """Environment variables to record (opt-in): ``TRACKLANE_CAPTURE_ENV="CUDA_*,SLURM_JOB_ID"``."""
    return [p.strip() for p in os.environ.get("TRACKLANE_CAPTURE_ENV", "").split(",") if p.strip()]


def _stored() -> dict[str, str]:
    path = credentials_path()
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
            return stored if isinstance(stored, dict) else {}
        except (OSError, ValueError):
            return {}
    return {}


def gateway(url: str | None = None) -> str:
    """The gateway's URL (its HTTP API: the importers read and write through it): ``url``, else
    ``TRACKLANE_GATEWAY``, else the credentials file's, else the local stack's."""
    found = url or os.environ.get("TRACKLANE_GATEWAY") or _stored().get("gateway") or DEFAULT_GATEWAY
    return found.rstrip("/")


def resolve(server: str | None = None, api_key: str | None = None, *, offline: bool = False) -> ClientConfig:
    stored = _stored()
    path = credentials_path()
    server = server or os.environ.get("TRACKLANE_SERVER") or stored.get("server") or DEFAULT_SERVER
    api_key = api_key or os.environ.get("TRACKLANE_API_KEY") or stored.get("api_key") or ""
    if not api_key and not offline:
        raise RuntimeError(
            "no Tracklane API key: set TRACKLANE_API_KEY, pass api_key= to tracklane.init, "
            f"or run `make up`, which writes {path}"
        )
    return ClientConfig(server=server.removeprefix("grpc://"), api_key=api_key)  # https://…: TLS (_channel)
