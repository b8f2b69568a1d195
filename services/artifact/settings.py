"""Artifact service settings (environment only; see the README's settings table)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from services.common.config import CommonSettings, Env, Secret


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    prometheus_port: int
    http_addr: str
    public_url: str
    s3_url: str | None
    s3_bucket: str
    s3_access_key: Secret
    s3_secret_key: Secret
    signing_key: Secret
    archive_flush_s: float  # the longest an event waits to be written to the archive

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        common = CommonSettings.from_env(env)
        http_addr = env.address("TRACKLANE_ARTIFACT_HTTP_ADDR", "127.0.0.1:8081")
        return cls(
            common=common,
            prometheus_port=env.integer("TRACKLANE_ARTIFACT_PROMETHEUS_PORT", 9154, maximum=65535),
            http_addr=http_addr,
            public_url=env.text("TRACKLANE_ARTIFACT_PUBLIC_URL", f"http://{http_addr}"),
            s3_url=env.optional("TRACKLANE_S3_URL"),
            s3_bucket=env.text("TRACKLANE_S3_BUCKET", "tracklane"),
            s3_access_key=env.secret("TRACKLANE_S3_ACCESS_KEY"),
            s3_secret_key=env.secret("TRACKLANE_S3_SECRET_KEY"),
            signing_key=env.secret("TRACKLANE_ARTIFACT_SIGNING_KEY") or Secret(_stored_signing_key(common)),
            archive_flush_s=env.number("TRACKLANE_ARCHIVE_FLUSH_S", 5.0, minimum=0.05),
        )


def _stored_signing_key(common: CommonSettings) -> str:
    """The embedded store's URL-signing key: generated once, kept in the data directory."""
    path = common.data_dir / "artifact-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
