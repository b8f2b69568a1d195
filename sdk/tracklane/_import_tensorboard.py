"""``tracklane import tensorboard LOGDIR``: the scalars, histograms, images and text of
TensorBoard event files (``events.out.tfevents.*``, as TensorFlow, ``torch.utils.tensorboard`` and
tensorboardX write them) into Tracklane, one experiment per run directory (every directory that
holds event files, named by its path under LOGDIR, as TensorBoard names runs).

* scalar ``a/b`` → metric ``a``, variant ``b`` (a tag without ``/``: both the tag), at its step,
  with its wall time;
* a histogram → a histogram plot at its step;
* an image → a debug sample (the PNG or JPEG as written);
* text → console lines (``[tag @ step] text``), at their wall time.

Running it again imports nothing twice: the experiment's id comes from the project and the run's
name, and it records how far each event file was read (the user property
``tensorboard.<file name>``: bytes read) in the same batches as the data, so the next run reads
on from there — what a training job wrote since comes, nothing else. Events keep sequences that
follow on from the last import's (``tensorboard.next_seq``), so a batch sent again after a crash
is dropped as a duplicate.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tracklane_proto import events_pb2, ingest_pb2, ingest_pb2_grpc, tensorboard_pb2

from tracklane import _plots
from tracklane._http import Client, HttpError

NAMESPACE = uuid.UUID("6f0c3c1e-3b7e-4a53-9c36-7a2f8f0e1a51")
PREFIX = "tensorboard."
MAX_EVENTS = 400  # per Append (the server takes 1,000)
MAX_BATCH_BYTES = 2 * 1024 * 1024
MAX_POINTS = 30_000  # per scalar event
MAX_LINES = 5_000  # per console event
_HEADER = struct.Struct("<Q")


def records(path: Path, offset: int) -> Iterator[tuple[int, bytes]]:
    """The records of a TFRecord file from byte ``offset``: (offset after the record, data). A
    record still being written (truncated) ends the iteration; it is read next time."""
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            head = f.read(12)  # length (8) + its CRC (4)
            if len(head) < 12:
                return
            (length,) = _HEADER.unpack_from(head)
            data = f.read(length)
            crc = f.read(4)
            if len(data) < length or len(crc) < 4:
                return
            offset += 12 + length + 4
            yield offset, data


def event_files(logdir: Path) -> dict[str, list[Path]]:
    """Run name → its event files in the order they were written."""
    runs: dict[str, list[Path]] = {}
    for path in sorted(logdir.rglob("*tfevents*")):
        if path.is_file():
            rel = path.parent.relative_to(logdir).as_posix()
            runs.setdefault(logdir.resolve().name if rel == "." else rel, []).append(path)
    return runs


def experiment_id(project: str, run: str) -> str:
    return uuid.uuid5(NAMESPACE, f"{project}\0{run}").hex


def split_tag(tag: str) -> tuple[str, str]:
    metric, _, variant = tag.partition("/")
    return (metric, variant) if metric and variant else (tag, tag)


# -- what one summary value is -----------------------------------------------------------------
_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 19: "<f2"}


def _tensor(t: Any) -> np.ndarray:
    if t.tensor_content and t.dtype in _DTYPES:
        a = np.frombuffer(t.tensor_content, dtype=_DTYPES[t.dtype]).astype(float)
    else:
        a = np.asarray(list(t.float_val) or list(t.double_val) or list(t.int_val) or list(t.int64_val), dtype=float)
    shape = [d.size for d in t.tensor_shape.dim]
    return a.reshape(shape) if shape and int(np.prod(shape)) == a.size else a


def histogram_edges(h: Any) -> tuple[list[float], list[float]]:
    """(edges, counts) of a HistogramProto: bucket i spans from the previous limit (the minimum
    for the first) to bucket_limit[i]; the open-ended outer limits are clamped to min and max."""
    limits, counts = list(h.bucket_limit), list(h.bucket)
    keep = [i for i, c in enumerate(counts) if c] or list(range(len(counts)))
    if not keep:
        return [h.min, h.max], [0.0]
    first, last = keep[0], keep[-1]
    lefts = [limits[i - 1] if i > 0 else h.min for i in range(first, last + 1)]
    edges = [max(lefts[0], h.min)] + [min(x, h.max) if x > h.max else x for x in limits[first : last + 1]]
    edges[-1] = max(min(edges[-1], h.max), edges[0])
    return edges, counts[first : last + 1]


HISTOGRAM_BINS = 30  # as TensorBoard draws a histogram


def rebin(edges: list[float], counts: list[float], bins: int = HISTOGRAM_BINS) -> tuple[list[float], list[float]]:
    """A histogram's counts spread over ``bins`` equal-width bins, each bucket's count shared
    among the bins it overlaps in proportion (as TensorBoard does). Writers bucket exponentially
    — narrow near zero, wide far out — so the counts as written, drawn as bars, would show a dip
    at zero in a bell curve."""
    lo, hi = float(edges[0]), float(edges[-1])
    if not hi > lo:
        return [lo, lo + 1.0], [float(sum(counts))]
    out_edges = np.linspace(lo, hi, bins + 1)
    out = np.zeros(bins)
    for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True):
        if not c:
            continue
        if not b > a:  # a bucket of zero width: its count goes to the bin it lies in
            out[min(max(int(np.searchsorted(out_edges, a, "right")) - 1, 0), bins - 1)] += c
            continue
        first = max(int(np.searchsorted(out_edges, a, "right")) - 1, 0)
        last = min(int(np.searchsorted(out_edges, b, "left")), bins)
        for i in range(first, last):
            overlap = min(b, out_edges[i + 1]) - max(a, out_edges[i])
            if overlap > 0:
                out[i] += c * overlap / (b - a)
    return out_edges.tolist(), out.tolist()


@dataclass
class Pending:
    """What one Append will carry, as it fills."""

    scalars: list[tuple[str, str, int, float, float]] = field(default_factory=list)
    others: list[events_pb2.Event] = field(default_factory=list)
    lines: list[tuple[float, str]] = field(default_factory=list)
    size: int = 0

    def full(self) -> bool:
        return (
            len(self.scalars) >= MAX_POINTS
            or len(self.others) >= MAX_EVENTS - 4
            or len(self.lines) >= MAX_LINES
            or self.size >= MAX_BATCH_BYTES
        )

    def empty(self) -> bool:
        return not (self.scalars or self.others or self.lines)

    def events(self) -> list[events_pb2.Event]:
        out = list(self.others)
        if self.scalars:
            series: dict[tuple[str, str], int] = {}
            index = [series.setdefault((m, v), len(series)) for m, v, *_ in self.scalars]
            out.append(events_pb2.Event(client_time=self.scalars[-1][4], scalars=events_pb2.ScalarBatch(
                series=[events_pb2.SeriesKey(metric=m, variant=v) for m, v in series],
                series_index=np.asarray(index, dtype="<u4").tobytes(),
                iterations=np.asarray([p[2] for p in self.scalars], dtype="<i8").tobytes(),
                values=np.asarray([p[3] for p in self.scalars], dtype="<f8").tobytes(),
                timestamps=np.asarray([p[4] for p in self.scalars], dtype="<f8").tobytes(),
            )))  # fmt: skip
        if self.lines:
            n = len(self.lines)
            out.append(events_pb2.Event(client_time=self.lines[-1][0], console_lines=events_pb2.ConsoleLines(
                text=[t for _, t in self.lines],
                timestamps=np.asarray([w for w, _ in self.lines], dtype="<f8").tobytes(),
                levels=np.full(n, 2, dtype="u1").tobytes(), sources=np.zeros(n, dtype="u1").tobytes(),
            )))  # fmt: skip
        return out


@dataclass
class Tally:
    runs: int = 0
    new_runs: int = 0
    points: int = 0
    plots: int = 0
    images: int = 0
    lines: int = 0

    def sent(self) -> int:
        return self.new_runs + self.points + self.plots + self.images + self.lines


class Importer:
    """Reads event files and appends what they hold through ingestion (``stub``); reads back
    how far earlier imports went through the gateway (``http``)."""

    def __init__(self, stub: ingest_pb2_grpc.IngestServiceStub, metadata: tuple[tuple[str, str], ...],
                 http: Client, project: str, progress: Any) -> None:  # fmt: skip
        self.stub, self.metadata, self.http, self.project, self.progress = stub, metadata, http, project, progress
        self.tally = Tally()

    def run(self, logdir: Path) -> Tally:
        runs = event_files(logdir)
        if not runs:
            raise SystemExit(f"no TensorBoard event files (events.out.tfevents.*) under {logdir}")
        for name, files in runs.items():
            self.one(name, files)
            self.tally.runs += 1
        return self.tally

    def _state(self, exp_id: str, fresh: bool) -> dict[str, str]:
        """The properties of an experiment imported before ({} for a new one)."""
        deadline = time.monotonic() + (0 if fresh else 30)
        while True:
            try:
                return dict(self.http.get(f"api/v1/experiments/{exp_id}/configuration").get("properties", {}))
            except HttpError as exc:
                if exc.status != 404 or time.monotonic() >= deadline:
                    if exc.status == 404:
                        return {}
                    raise
            time.sleep(0.2)

    def one(self, name: str, files: list[Path]) -> None:
        exp_id = experiment_id(self.project, name)
        started = _first_time(files)
        opened = self.stub.OpenExperiment(
            ingest_pb2.OpenExperimentRequest(experiment_id=exp_id, project=self.project, name=name[:255],
                                             started_at=started, tags=["tensorboard"]),
            metadata=self.metadata, timeout=30,
        )  # fmt: skip
        self.tally.new_runs += int(opened.created)
        state = self._state(exp_id, fresh=opened.created)
        seq = int(state.get(f"{PREFIX}next_seq", "1"))
        offsets = {p.name: int(state.get(PREFIX + p.name, "0")) for p in files}
        total = sum(p.stat().st_size for p in files)
        done = sum(min(offsets[p.name], p.stat().st_size) for p in files)
        print(f"{name}:", file=sys.stderr)
        pending, last_time, sent_any = Pending(), started, False
        for path in files:
            for offset, data in records(path, offsets[path.name]):
                event = tensorboard_pb2.Event.FromString(data)
                last_time = max(last_time, event.wall_time)
                if event.WhichOneof("what") == "summary":
                    for value in event.summary.value:
                        self._add(exp_id, pending, event, value)
                done += offset - offsets[path.name]
                offsets[path.name] = offset
                if pending.full():
                    seq = self._append(exp_id, pending, offsets, seq)
                    pending, sent_any = Pending(), True
                    self.progress("bytes", done, total)
        if not pending.empty() or any(offsets[p.name] != int(state.get(PREFIX + p.name, "0")) for p in files):
            status = events_pb2.Event(client_time=last_time, status_changed=events_pb2.StatusChanged(
                status=events_pb2.EXPERIMENT_STATUS_COMPLETED, at=last_time))  # fmt: skip
            pending.others.append(status)
            seq = self._append(exp_id, pending, offsets, seq)
            sent_any = True
        self.progress("bytes", total, total)
        if sent_any:
            self._wait(exp_id, seq)

    def _add(self, exp_id: str, pending: Pending, event: Any, value: Any) -> None:
        tag, step, wall = value.tag, max(int(event.step), 0), float(event.wall_time)
        metric, variant = split_tag(tag)
        kind = value.WhichOneof("value")
        plugin = value.metadata.plugin_data.plugin_name
        if kind == "simple_value" or (kind == "tensor" and plugin == "scalars"):
            number = float(value.simple_value) if kind == "simple_value" else float(_tensor(value.tensor).ravel()[0])
            pending.scalars.append((metric, variant, step, number, wall))
            self.tally.points += 1
        elif kind == "histo" or (kind == "tensor" and plugin == "histograms"):
            if kind == "histo":
                edges, counts = histogram_edges(value.histo)
            else:  # the new style: a [k, 3] tensor of (left edge, right edge, count)
                buckets = _tensor(value.tensor).reshape(-1, 3)
                if not len(buckets):
                    return
                edges, counts = [*buckets[:, 0].tolist(), float(buckets[-1, 1])], buckets[:, 2].tolist()
            figure = _plots.binned_json(tag, *rebin(edges, counts))
            pending.others.append(events_pb2.Event(client_time=wall, plot_reported=events_pb2.PlotReported(
                metric=metric, variant=variant, iteration=step, kind="histogram", figure_json=figure)))  # fmt: skip
            pending.size += len(figure)
            self.tally.plots += 1
        elif kind == "image":
            data = value.image.encoded_image_string
            pending.others.append(self._image(exp_id, metric, variant, step, wall, data))
            self.tally.images += 1
        elif kind == "tensor" and plugin == "text":
            tag = tag.removesuffix("/text_summary")  # the name TensorFlow 1 (and tensorboardX) give text
            for raw in value.tensor.string_val:
                for line in raw.decode("utf-8", errors="replace").splitlines() or [""]:
                    pending.lines.append((wall, f"[{tag} @ {step}] {line}"[:16_000]))
                    self.tally.lines += 1

    def _image(self, exp_id: str, metric: str, variant: str, step: int, wall: float, data: bytes) -> events_pb2.Event:
        jpeg = data[:3] == b"\xff\xd8\xff"
        digest = hashlib.sha256(data).hexdigest()
        key = f"debug/tensorboard/{_h(metric)}/{_h(variant)}/{step:020d}-{digest[:12]}.{'jpg' if jpeg else 'png'}"
        grant = self.stub.PresignUpload(ingest_pb2.UploadRequest(experiment_id=exp_id, key=key, size=len(data)),
                                        metadata=self.metadata, timeout=30)  # fmt: skip
        Client("").send("PUT", grant.url, data, {"Content-Type": "image/jpeg" if jpeg else "image/png"})
        ref = events_pb2.FileReference(key=key, size=len(data), sha256=digest,
                                       content_type="image/jpeg" if jpeg else "image/png")  # fmt: skip
        return events_pb2.Event(client_time=wall, debug_sample=events_pb2.DebugSample(
            metric=metric, variant=variant, iteration=step, kind="image", file=ref))  # fmt: skip

    def _append(self, exp_id: str, pending: Pending, offsets: dict[str, int], seq: int) -> int:
        """Appends the pending events and, last, how far each file is read; the next sequence."""
        events = pending.events()
        mark = {PREFIX + name: str(at) for name, at in offsets.items()}
        mark[f"{PREFIX}next_seq"] = str(seq + len(events) + 1)
        events.append(events_pb2.Event(client_time=time.time(), properties_set=events_pb2.PropertiesSet(set=mark)))
        for i, e in enumerate(events):
            e.seq = seq + i
        self.stub.Append(ingest_pb2.EventBatch(experiment_id=exp_id, events=events), metadata=self.metadata,
                         timeout=120)  # fmt: skip
        return seq + len(events)

    def _wait(self, exp_id: str, seq: int) -> None:
        """Until the server's read model has this import's mark (so that a second import, right
        after, reads on from it)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self._state(exp_id, fresh=False).get(f"{PREFIX}next_seq") == str(seq):
                return
            time.sleep(0.2)


def _first_time(files: list[Path]) -> float:
    for path in files:
        for _, data in records(path, 0):
            wall = tensorboard_pb2.Event.FromString(data).wall_time
            if wall:
                return float(wall)
    return time.time()


def _h(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()[:12]  # noqa: S324 (a folder name, not security)
