"""Gateway settings (environment only; see the README's settings table)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.config import CommonSettings, Env


@dataclass(frozen=True)
class Settings:
    common: CommonSettings

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        return cls(
            common=CommonSettings.from_env(env),
        )
