"""Ingestion settings (environment only; see the README's settings table)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.config import CommonSettings, Env


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    prometheus_port: int
    alive_interval: float

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        return cls(
            common=CommonSettings.from_env(env),
            prometheus_port=env.integer("TRACKLANE_INGESTION_PROMETHEUS_PORT", 9151, maximum=65535),
            alive_interval=env.number("TRACKLANE_ALIVE_INTERVAL", 30.0, minimum=0.1),
        )
