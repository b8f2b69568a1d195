"""Gateway settings (environment only; see the README's settings table)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from services.common.config import CommonSettings, Env


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    cors_origins: tuple[str, ...]
    # Origins that may frame widgets when a workspace sets none ("*": any; empty: none).
    embed_origins: tuple[str, ...] = ("*",)
    # Signs embed tokens; every gateway replica needs the same. Empty: kept in the data dir.
    embed_secret: str = ""
    # The gateway's address as browsers reach it, for embed codes (default: the request's).
    public_url: str = ""
    # How long a browser session lasts after sign-in, in seconds.
    session_ttl: float = 12 * 3600.0
    # The built web UI (make ui).
    ui_dir: Path = Path(__file__).parent / "ui" / "dist"
    # Where the object store's signed links point (the artifact service's HTTP address, or the
    # S3 server): pages may read from them (the audio of a debug sample for its waveform).
    object_origins: tuple[str, ...] = ()
    # Reports' PDF and HTML exports: the Chromium that prints them, and the address it reads
    # the report page from (default: the request's; in a cluster, the gateway's own service).
    chromium: str = ""
    render_url: str = ""

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        return cls(
            common=CommonSettings.from_env(env),
            cors_origins=tuple(o.strip() for o in env.text("TRACKLANE_CORS_ORIGINS", "").split(",") if o.strip()),
            embed_origins=tuple(o.strip() for o in env.text("TRACKLANE_EMBED_ORIGINS", "*").split(",") if o.strip()),
            embed_secret=env.text("TRACKLANE_EMBED_SECRET", ""),
            public_url=env.text("TRACKLANE_PUBLIC_URL", "").rstrip("/"),
            session_ttl=env.number("TRACKLANE_SESSION_TTL", 12 * 3600.0, minimum=60.0),
            ui_dir=env.path("TRACKLANE_UI_DIR", Path(__file__).parent / "ui" / "dist"),
            object_origins=_object_origins(env),
            chromium=env.text("TRACKLANE_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium"),
            render_url=env.text("TRACKLANE_RENDER_URL", "").rstrip("/"),
        )

    @property
    def secure_cookies(self) -> bool:
        """Session cookies are ``Secure`` when browsers reach the gateway over https."""
        return self.public_url.startswith("https://")


def _object_origins(env: Env) -> tuple[str, ...]:
    """The origins of the signed object links, read from the artifact service's own settings."""
    http_addr = env.text("TRACKLANE_ARTIFACT_HTTP_ADDR", "127.0.0.1:8081")
    urls = [env.text("TRACKLANE_ARTIFACT_PUBLIC_URL", f"http://{http_addr}"), env.text("TRACKLANE_S3_URL", "")]
    origins = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            port = f":{parts.port}" if parts.port else ""
            origins.append(f"{parts.scheme}://{parts.hostname}{port}")  # never the credentials
    return tuple(dict.fromkeys(origins))
