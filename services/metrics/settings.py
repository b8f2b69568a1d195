"""Metrics service settings (environment only; see the README's settings table)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.config import CommonSettings, Env


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    clickhouse_url: str
    clickhouse_cluster: str
    prometheus_port: int
    fetch_batch: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        common = CommonSettings.from_env(env)
        return cls(
            common=common,
            clickhouse_url=env.text("TRACKLANE_CLICKHOUSE_URL", f"chdb://{common.data_dir / 'clickhouse'}"),
            # a cluster's name in the servers' remote_servers: replicated and distributed tables
            clickhouse_cluster=env.text("TRACKLANE_CLICKHOUSE_CLUSTER", ""),
            prometheus_port=env.integer("TRACKLANE_METRICS_PROMETHEUS_PORT", 9152, maximum=65535),
            fetch_batch=env.integer("TRACKLANE_METRICS_FETCH_BATCH", 64, minimum=1, maximum=10_000),
        )
