"""The image and the compose stack, checked without Docker (there is no engine on these
machines; where there is one, `docker build -f deploy/Dockerfile .` builds it): the Dockerfile is
multi-stage, builds the web UI in a stage, runs as a non-root user through the one entry point and
copies only what exists; the compose file runs the same settings as the prod overlay — the
manifests' NATS configuration on three nodes, ClickHouse in cluster mode, a MongoDB replica set —
with every Tracklane container read-only, unprivileged and listening on loopback only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from services.__main__ import COMMANDS
from tests.deploy.test_k8s import settings_the_code_reads

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_the_dockerfile_builds_the_ui_in_a_stage_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.M)
    assert len(stages) == 3 and [s[1] for s in stages] == ["ui", "build", ""]
    assert all(":" in image and not image.endswith(":latest") for image, _ in stages)
    assert "npm run build" in text and "COPY --from=ui /ui/dist /app/gateway/ui/dist" in text
    final = text[text.rindex("\nFROM ") :]
    user = re.search(r"^USER (\d+)(?::(\d+))?$", final, re.M)
    assert user is not None and int(user.group(1)) >= 1000  # numeric: runAsNonRoot can check it
    assert 'ENTRYPOINT ["python", "-m", "services"]' in final and 'CMD ["gateway"]' in final
    assert "org.opencontainers.image.version" in final
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for path in src.split():
            assert (ROOT / path).exists(), f"COPY {path}: not in the repository"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "**/node_modules", "gateway/ui/dist", "tests"} <= set(ignored)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_the_compose_stack_runs_the_prod_settings_on_real_servers() -> None:
    services = _compose()["services"]
    ours = {n: s for n, s in services.items() if s.get("image", "").startswith("tracklane:")}
    assert set(ours) == {"ingestion", "metrics", "metadata", "artifact", "reporting", "gateway", "migrate"}
    read = settings_the_code_reads()
    for name, s in ours.items():
        assert s["command"][0] in COMMANDS and s["command"][0] == name, name
        assert s["read_only"] is True and s["cap_drop"] == ["ALL"] and s["user"].split(":")[0] != "0"
        assert set(s["environment"]) - read == set(), f"{name}: settings the code does not read"
    env = ours["gateway"]["environment"]
    assert env["TRACKLANE_NATS_REPLICAS"] == "3" and env["TRACKLANE_CLICKHOUSE_CLUSTER"] == "tracklane"
    assert "replicaSet=rs0" in env["TRACKLANE_MONGODB_URL"]
    nats = {n: s for n, s in services.items() if n.startswith("nats-")}
    assert len(nats) == 3
    for name, s in nats.items():
        assert "../k8s/components/nats/nats.conf:/etc/nats/nats.conf:ro" in s["volumes"]  # the manifests' file
        assert s["environment"]["NATS_SERVER_NAME"] == name
        assert {s["environment"][f"NATS_ROUTE_{i}"] for i in (1, 2, 3)} == {f"nats://{n}:6222" for n in nats}
    for name, s in services.items():
        image = s.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image"
        assert all(p.startswith("127.0.0.1:") for p in s.get("ports", [])), f"{name}: loopback only"
        for volume in s.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).resolve().exists(), f"{name}: {source} does not exist"
    assert "<tracklane>" in (DEPLOY / "compose" / "clickhouse-cluster.xml").read_text()
