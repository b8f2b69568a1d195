"""The README's curl tour (examples/curl_tour.sh) runs against the real platform, start to end:
every call it makes must answer 2xx (curl --fail-with-body), and what it prints is checked."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devstack import Stack
from tests.conftest import API_KEY, PYTHON

pytestmark = pytest.mark.engines

TOUR = Path(__file__).parents[2] / "examples" / "curl_tour.sh"


@pytest.mark.skipif(shutil.which("curl") is None, reason="the tour is curl commands; `make test` installs curl")
def test_the_curl_tour_runs_as_written(stack: Stack, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TRACKLANE_URL": stack.gateway_url,
        "TRACKLANE_SERVER": stack.ingestion_addr,
        "TRACKLANE_API_KEY": API_KEY,
        "TRACKLANE_CONFIG_DIR": str(tmp_path / "config"),
        "PYTHON": PYTHON,
    }
    done = subprocess.run(["bash", str(TOUR)], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "[(2000, 100, True)]" in out  # 2,000 points in 100 buckets
    assert "[(21, False)]" in out  # the zoom at full resolution: iterations 100..120
    assert "renaming a published experiment answers 409" in out
    assert "the cleared experiment now answers 404" in out
    assert "a viewer archiving answers 403" in out
    assert "their key after removal answers 401" in out
    assert "['lr=0.01', 'lr=0.1']" in out or "['lr=0.1', 'lr=0.01']" in out or "['baseline']" in out
    assert "[2000]" in out  # scalars read without a key while public
    assert "without a key it now answers 404" in out
