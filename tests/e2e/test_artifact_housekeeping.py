"""The artifact service's housekeeping across real processes: only the newest N debug samples of
each metric/variant keep their objects, and clearing an experiment deletes all its objects."""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import Stack
from tests.conftest import API_KEY, PYTHON, start_stack
from tests.e2e.helpers import gateway, wait_for

pytestmark = pytest.mark.engines

SCRIPT = textwrap.dedent(
    """
    import numpy as np, tracklane
    with tracklane.init(project="keep", name="samples", monitor_interval=None) as exp:
        for it in range(6):
            exp.log_image("img", "a", np.full((4, 4), it * 40, dtype=np.uint8), iteration=it)
            exp.log_image("img", "b", np.zeros((4, 4), dtype=np.uint8), iteration=it)
        exp.upload_artifact("cfg", {"x": 1})
    print("ID", exp.id)
    """
)


@pytest.fixture(scope="module")
def keep3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("keep3"), TRACKLANE_DEBUG_SAMPLE_RETENTION="3")
    yield s
    s.stop()


def _objects(stack: Stack, experiment_id: str) -> list[str]:
    root = stack.data_dir / "objects" / "objects" / "default" / experiment_id
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_retention_keeps_the_newest_samples_and_clear_removes_every_object(keep3: Stack, tmp_path: Path) -> None:
    env = dict(os.environ, TRACKLANE_SERVER=keep3.ingestion_addr, TRACKLANE_API_KEY=API_KEY,
               TRACKLANE_CACHE_DIR=str(tmp_path))  # fmt: skip
    run = subprocess.run([PYTHON, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    exp = run.stdout.strip().split("ID ")[-1]
    wait_for(
        "retention to leave 3 samples per series",
        lambda: len([k for k in _objects(keep3, exp) if k.startswith("debug/")]) == 6,
    )
    objects = _objects(keep3, exp)
    assert [k.rsplit("/", 1)[-1][:20] for k in objects if k.startswith("debug/")] == [
        f"{it:020d}" for it in (3, 4, 5)
    ] * 2  # per folder, in key order: the newest iterations stayed
    with gateway(keep3) as gw:
        [a] = gw.get(f"/api/v1/experiments/{exp}/debug-samples", params={"variant": "a"}).json()["samples"]
        assert (a["iteration"], a["previous_iteration"], a["iterations"]) == (5, 4, 3)
        assert a["stored_iterations"] == [3, 4, 5]  # what the debug-samples slider offers
        assert gw.get(f"/api/v1/experiments/{exp}/debug-samples", params={"iteration": 1}).json()["samples"] == []
        url = f"/api/v1/experiments/{exp}"
        for step in ("archive", "delete", "clear"):
            assert gw.post(f"{url}/{step}").status_code == 200
    assert any(k.startswith("artifacts/") for k in objects)
    wait_for("every object of the cleared experiment to go", lambda: _objects(keep3, exp) == [])
