"""The HTTP API against its own OpenAPI document: schemathesis with every check and every phase
(examples, coverage, fuzzing, stateful) on a stack of its own, seeded with a run that has every
kind of data so that reads answer with real bodies, not only 404s. ``tests/e2e/schemathesis.toml``
holds the few relaxed settings, each with its reason. ``make contract`` runs it longer."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devstack import Stack
from tests.conftest import API_KEY, start_stack
from tests.e2e.helpers import gateway, wait_for

pytestmark = pytest.mark.engines

HERE = Path(__file__).parent
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES = int(os.environ.get("TRACKLANE_CONTRACT_EXAMPLES", "25"))
RUN = textwrap.dedent(
    """
    import math, sys
    import numpy as np
    import tracklane
    with tracklane.init(project="contract/seeded", name="every kind of data", tags=["seed"],
                        monitor_interval=None) as exp:
        exp.log_params({"lr": 0.1, "optim": {"name": "sgd"}})
        exp.connect_configuration({"layers": [64, 128]}, name="model")
        exp.set_user_properties(team="cv")
        for i in range(300):
            exp.log_scalar("loss", "train", 1 / (i + 1), iteration=i)
        exp.log_scalar("loss", "val", math.nan, iteration=3)
        exp.log_plot("roc", "val", {"data": [{"x": [0, 1], "y": [0, 1]}], "layout": {}}, iteration=1)
        exp.log_histogram("weights", "layer1", np.arange(100.0), iteration=2)
        exp.log_image("inputs", "batch0", np.zeros((4, 4, 3), dtype=np.uint8), iteration=1)
        exp.upload_artifact("stats", {"acc": 0.93})
        exp.log_text("hello from the seed run")
    print(exp.id)
    """
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stack, str]:
    """A stack of its own (schemathesis creates workspaces, keys and grants, and archives,
    publishes and clears what it finds) and one experiment with every kind of data."""
    tmp = tmp_path_factory.mktemp("contract")
    stack = start_stack(tmp)
    try:
        env = {**os.environ, "TRACKLANE_SERVER": stack.ingestion_addr, "TRACKLANE_API_KEY": API_KEY,
               "TRACKLANE_CACHE_DIR": str(tmp / "cache")}  # fmt: skip
        done = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        experiment = done.stdout.strip().splitlines()[-1]
        with gateway(stack) as gw:
            wait_for(
                "the seeded run", lambda: gw.get(f"/api/v1/experiments/{experiment}/artifacts").json().get("artifacts")
            )
        yield stack, experiment
    finally:
        stack.stop()


def test_the_api_keeps_to_its_document(seeded: tuple[Stack, str], tmp_path: Path) -> None:
    stack, experiment = seeded
    config = tmp_path / "schemathesis.toml"
    with gateway(stack) as gw:  # a key of its own for rotate and revoke to work on
        disposable = gw.post("/api/v1/keys", json={"name": "disposable", "role": "viewer"}).json()["id"]
    config.write_text(
        (HERE / "schemathesis.toml").read_text()
        + f'\n[parameters]\n"path.experiment_id" = "{experiment}"\n"path.name" = "stats"\n'
        # Rotation and revocation get a disposable key: with an id it learned from GET /keys,
        # schemathesis would revoke the very key the run authenticates with.
        + '\n[[operations]]\ninclude-operation-id = ["post_rotate_key", "post_revoke_key"]\n'
        + f'parameters = {{ "path.key_id" = "{disposable}" }}\n'
    )
    command = [
        str(SCHEMATHESIS), "--config-file", str(config), "run", f"{stack.gateway_url}/api/v1/openapi.json",
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--workers", "1",
        "--max-examples", str(EXAMPLES), "-H", f"Authorization: Bearer {API_KEY}", "--no-color",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    (tmp_path / "schemathesis.log").write_text(done.stdout + done.stderr)
    summary = done.stdout[done.stdout.find("SUMMARY") :]
    print(summary, f"(the whole report: {tmp_path / 'schemathesis.log'})")
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    assert "passed" in summary and "failure" not in summary
    with gateway(stack) as gw:  # the run's key kept working to the end
        answer = gw.get("/api/v1/keys")
        assert answer.status_code == 200, answer.text
        keys = {k["id"]: k for k in answer.json()["keys"]}
    assert keys[disposable]["revoked"] or keys[disposable]["rotated_at"]  # rotate/revoke ran on it
