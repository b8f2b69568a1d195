"""Reporting service settings (environment only; see the README's settings table)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.config import CommonSettings, Env


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    prometheus_port: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        return cls(
            common=CommonSettings.from_env(env),
            prometheus_port=env.integer("TRACKLANE_REPORTING_PROMETHEUS_PORT", 9155, maximum=65535),
        )
