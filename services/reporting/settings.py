"""Reporting service settings (environment only; see the README's settings table)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.config import CommonSettings, Env, Secret


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    mongodb_url: Secret
    database: str
    prometheus_port: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        return cls(
            common=CommonSettings.from_env(env),
            mongodb_url=Secret(env.text("TRACKLANE_MONGODB_URL", "mongodb://127.0.0.1:27017")),
            database=env.text("TRACKLANE_MONGODB_DATABASE", "tracklane"),
            prometheus_port=env.integer("TRACKLANE_REPORTING_PROMETHEUS_PORT", 9155, maximum=65535),
        )
