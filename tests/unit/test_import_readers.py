"""The importers' readers, without a server: MLflow's ``meta.yaml`` as PyYAML writes it (the
reader parses it without PyYAML), and TensorBoard event files as tensorboardX writes them (read
with our own subset of TensorBoard's protocol)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from tensorboardX import SummaryWriter
from tracklane._import_mlflow import read_meta
from tracklane._import_tensorboard import event_files, histogram_edges, rebin, records, split_tag
from tracklane_proto import tensorboard_pb2

NAMES = [
    "plain",
    "exp one: a long name with spaces that goes on and on and on and on past eighty characters wide",
    "it's 'quoted' and \"double\"",
    "123",
    "null",
    "true",
    "  leading and trailing  ",
    "multi\nline\n\nwith a blank one",
    "ünïcödé — ✓ 実験",
    "tab\there",
    "a" * 300,
    "- dash first",
    "# hash first",
    "back\\slash",
    "tab\there " + "x " * 50 + "\u2028 q",
]


@pytest.mark.parametrize("name", NAMES)
def test_meta_yaml_reads_what_pyyaml_wrote(tmp_path: Path, name: str) -> None:
    doc = {"artifact_location": "file:///tmp/x", "creation_time": 1796231765879, "experiment_id": "868456400789088213",
           "lifecycle_stage": "active", "name": name, "tags": [], "trace_location": None}  # fmt: skip
    (tmp_path / "meta.yaml").write_text(yaml.safe_dump(doc, allow_unicode=False))
    assert read_meta(tmp_path / "meta.yaml") == doc
    (tmp_path / "meta.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    assert read_meta(tmp_path / "meta.yaml") == doc


def _write_run(folder: Path, steps: range) -> None:
    w = SummaryWriter(str(folder))
    for s in steps:
        w.add_scalar("loss/train", 1.0 / (s + 1), s)
        w.add_scalar("lr", 0.1, s)
    w.add_histogram("weights", np.arange(100, dtype=float), 3)
    w.add_image("input", np.zeros((3, 4, 5)), 2)
    w.add_text("notes", "first line\nsecond line", 1)
    w.close()


def test_event_files_are_read_record_by_record_and_resume_at_an_offset(tmp_path: Path) -> None:
    _write_run(tmp_path / "logs" / "run-a", range(5))
    _write_run(tmp_path / "logs" / "run-b" / "train", range(2))
    runs = event_files(tmp_path / "logs")
    assert sorted(runs) == ["run-a", "run-b/train"]
    (path,) = runs["run-a"]
    everything = list(records(path, 0))
    kinds: dict[str, int] = {}
    for _, data in everything:
        event = tensorboard_pb2.Event.FromString(data)
        for v in event.summary.value:
            kind = v.WhichOneof("value") or ""
            kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {"simple_value": 10, "histo": 1, "image": 1, "tensor": 1}
    assert everything[-1][0] == path.stat().st_size

    # a record still being written is not read; the next read goes on from the last whole one
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    partial = list(records(path, 0))
    assert len(partial) == len(everything) - 1
    path.write_bytes(data)
    rest = list(records(path, partial[-1][0]))
    assert rest == everything[-1:]


def test_histograms_keep_their_counts_and_edges(tmp_path: Path) -> None:
    w = SummaryWriter(str(tmp_path))
    values = np.random.default_rng(1).normal(size=1000)
    w.add_histogram("w", values, 0)
    w.close()
    (path,) = event_files(tmp_path)[tmp_path.name]
    histo = next(
        v.histo for _, d in records(path, 0) for v in tensorboard_pb2.Event.FromString(d).summary.value if v.tag == "w"
    )
    edges, counts = histogram_edges(histo)
    assert len(edges) == len(counts) + 1 and sum(counts) == 1000
    assert edges == sorted(edges) and edges[0] >= values.min() - 1e-9 and edges[-1] <= values.max() + 1e-9


def test_histograms_are_drawn_over_equal_bins(tmp_path: Path) -> None:
    """Writers bucket exponentially (narrow near zero): re-binned into equal widths, a bell curve
    stays a bell curve — its tallest bins in the middle — and keeps every count."""
    w = SummaryWriter(str(tmp_path))
    w.add_histogram("w", np.random.default_rng(2).normal(scale=3.0, size=20_000), 0)
    w.close()
    (path,) = event_files(tmp_path)[tmp_path.name]
    histo = next(v.histo for _, d in records(path, 0) for v in tensorboard_pb2.Event.FromString(d).summary.value)
    edges, counts = rebin(*histogram_edges(histo))
    assert len(counts) == 30 and len(edges) == 31 and sum(counts) == pytest.approx(20_000)
    widths = np.diff(edges)
    assert np.allclose(widths, widths[0])
    peak = int(np.argmax(counts))
    assert edges[peak] <= 1.5 and edges[peak + 1] >= -1.5  # the mode is at the centre, not on a side
    middle = counts[12:18]
    assert min(middle) > max(counts[:5]) and min(middle) > max(counts[-5:])  # no dip at zero
    assert rebin([1.0, 1.0], [5.0]) == ([1.0, 2.0], [5.0])  # one value only


def test_tags_split_like_the_sdk_and_mlflow() -> None:
    assert split_tag("loss/train") == ("loss", "train")
    assert split_tag("a/b/c") == ("a", "b/c")
    assert split_tag("loss") == ("loss", "loss")
    assert split_tag("/x") == ("/x", "/x")
