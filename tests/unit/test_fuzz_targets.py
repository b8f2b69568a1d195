"""The fuzz targets of tests/fuzz/targets.py: each runs briefly under atheris (coverage-guided,
a fixed seed; ``FUZZ_RUNS`` inputs, ``make fuzz`` runs them for long), and every input that once
crashed one (``tests/fuzz/regressions/<target>/``) is replayed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"
NAMES = ["query_language", "mlflow_search", "event_batch", "log_event"]
RUNS = int(os.environ.get("FUZZ_RUNS", "4000"))


def test_every_target_is_run_here() -> None:
    from tests.fuzz.targets import TARGETS

    assert sorted(TARGETS) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_short_fuzzing_run_finds_no_crash(name: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.targets", name, f"-runs={RUNS}", "-seed=1", "-max_len=4096",
         f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    crashes = sorted(tmp_path.glob("crash-*")) + sorted(tmp_path.glob("oom-*")) + sorted(tmp_path.glob("timeout-*"))
    found = f"an input that crashes {name}: {crashes[0].read_bytes()!r}\n" if crashes else ""
    assert run.returncode == 0, found + run.stderr[-4000:]


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*/*")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_inputs_that_once_crashed_are_refused_cleanly(path: Path) -> None:
    from tests.fuzz.targets import TARGETS

    TARGETS[path.parent.name](path.read_bytes())


def test_the_decoders_seeds_are_valid_input() -> None:
    """The event targets start from valid messages (libFuzzer sees no coverage inside protobuf's
    C parser): each seed batch passes ingestion's validation, each seed event parses, so a change
    to the messages or the rules that made them invalid would show here, not as a fuzzer quietly
    stuck at the first refusal."""
    from tracklane_proto import ingest_pb2

    from services.common.events import parse
    from services.ingestion.domain import validate_batch
    from tests.fuzz.targets import SEEDS

    batches = SEEDS["event_batch"]()
    kinds = set()
    for data in batches:
        batch = ingest_pb2.EventBatch.FromString(data)
        validate_batch(batch)
        kinds |= {e.WhichOneof("payload") for e in batch.events}
    assert {"scalars", "console_lines", "params_set", "plot_reported"} <= kinds
    for data in SEEDS["log_event"]():
        assert parse(data).event_id
