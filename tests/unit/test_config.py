from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import CommonSettings, ConfigError, Env, Secret
from services.metrics.settings import Settings as MetricsSettings


def test_secrets_never_print() -> None:
    s = Secret("tl_supersecret")
    assert "supersecret" not in repr(s) and "supersecret" not in str(s) and "supersecret" not in f"{s}"
    assert s.reveal() == "tl_supersecret"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKLANE_GATEWAY_ADDR": "nohost"}, "TRACKLANE_GATEWAY_ADDR"),
        ({"TRACKLANE_LOG_LEVEL": "loud"}, "TRACKLANE_LOG_LEVEL"),
        ({"TRACKLANE_SHUTDOWN_GRACE": "soon"}, "TRACKLANE_SHUTDOWN_GRACE"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CommonSettings.from_env(Env(env))


def test_defaults_are_loopback_and_embedded(tmp_path: object) -> None:
    s = MetricsSettings.from_env(Env({"TRACKLANE_DATA_DIR": "/srv/tl"}))
    assert s.common.gateway_addr == "127.0.0.1:8080" and s.common.ingestion_addr == "127.0.0.1:50051"
    assert s.clickhouse_url == "chdb:///srv/tl/clickhouse"
    with pytest.raises(ConfigError, match="TRACKLANE_METRICS_FETCH_BATCH"):
        MetricsSettings.from_env(Env({"TRACKLANE_METRICS_FETCH_BATCH": "0"}))


def test_ports_round_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from devstack import Ports

    ports = Ports.free()
    for name, value in ports.env().items():
        monkeypatch.setenv(name, value)
    assert Ports.from_env() == ports


def test_the_launcher_writes_credentials_where_the_sdk_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracklane._config import config_dir

    from devstack import client_config_dir

    monkeypatch.delenv("TRACKLANE_CONFIG_DIR", raising=False)
    assert client_config_dir() == config_dir()
    monkeypatch.setenv("TRACKLANE_CONFIG_DIR", "/somewhere/else")
    assert client_config_dir() == config_dir() == Path("/somewhere/else")
