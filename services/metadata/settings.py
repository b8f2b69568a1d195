"""Metadata service settings (environment only; see the README's settings table)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.config import CommonSettings, Env, Secret


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    mongodb_url: Secret
    database: str
    table_url: str
    clickhouse_cluster: str
    bootstrap_api_key: Secret
    default_workspace: str
    prometheus_port: int
    heartbeat_timeout: float

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = env or Env()
        common = CommonSettings.from_env(env)
        # The experiment table index: the ClickHouse server the metrics use, when there is one;
        # embedded, its own chDB directory (chDB allows one process per directory).
        shared = env.text("TRACKLANE_CLICKHOUSE_URL", "")
        default_table = shared if shared.startswith(("http://", "https://")) else f"chdb://{common.data_dir / 'table'}"
        return cls(
            common=common,
            mongodb_url=Secret(env.text("TRACKLANE_MONGODB_URL", "mongodb://127.0.0.1:27017")),
            database=env.text("TRACKLANE_MONGODB_DATABASE", "tracklane"),
            table_url=env.text("TRACKLANE_TABLE_CLICKHOUSE_URL", default_table),
            clickhouse_cluster=env.text("TRACKLANE_CLICKHOUSE_CLUSTER", ""),
            bootstrap_api_key=env.secret("TRACKLANE_API_KEY"),
            default_workspace=env.text("TRACKLANE_DEFAULT_WORKSPACE", "default"),
            prometheus_port=env.integer("TRACKLANE_METADATA_PROMETHEUS_PORT", 9153, maximum=65535),
            heartbeat_timeout=env.number("TRACKLANE_HEARTBEAT_TIMEOUT", 300.0, minimum=1.0),
        )
