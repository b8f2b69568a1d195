"""Gateway settings (environment only; see the README's settings table)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.config import CommonSettings, Env


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    cors_origins: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        return cls(
            common=CommonSettings.from_env(env),
            cors_origins=tuple(o.strip() for o in env.text("TRACKLANE_CORS_ORIGINS", "").split(",") if o.strip()),
        )
