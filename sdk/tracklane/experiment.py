"""The experiment handle a training script holds."""

from __future__ import annotations

import argparse
import array
import atexit
import ctypes
import getpass
import hashlib
import json
import logging
import math
import mimetypes
import os
import re
import shutil
import signal
import sys
import threading
import time
import uuid
import wave
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from tracklane_proto import events_pb2, ingest_pb2

from tracklane import _capture, _config, _plots
from tracklane._sender import OfflineWriter, Sender
from tracklane._uploads import Upload, Uploader, file_reference, spool_bytes, zip_folder

log = logging.getLogger("tracklane")

MAX_NAME = 255
SINGLE_VALUE_METRIC = "Summary"
MAX_ITERATION = 2**63 - 1
FLUSH_INTERVAL_S = 0.1
EXECUTION_WAIT = 15.0  # close() waits at most this long for the execution details being collected
# 30,000 points are ~840 KB on the wire: under NATS's default 1 MB message limit.
FLUSH_POINTS = 30_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STATUS = {
    "running": events_pb2.EXPERIMENT_STATUS_RUNNING,
    "completed": events_pb2.EXPERIMENT_STATUS_COMPLETED,
    "failed": events_pb2.EXPERIMENT_STATUS_FAILED,
    "stopped": events_pb2.EXPERIMENT_STATUS_STOPPED,
}


LEVELS = {"debug": 1, "info": 2, "warning": 3, "error": 4, "critical": 5}
MAX_CONSOLE_BUFFER = 100_000  # lines waiting to be shipped; older ones are dropped past it
CONSOLE_EVENT_LINES = 5_000
CONSOLE_EVENT_BYTES = 512 * 1024
MAX_VALUE = 64 * 1024


class InterruptedExperiment(BaseException):
    """Raised in the main thread when someone stops the experiment from outside (the web UI or
    ``POST /api/v1/experiments/{id}/stop``). A BaseException, like KeyboardInterrupt, so that
    ``except Exception`` in a training loop does not swallow it."""


def _check_name(kind: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{kind} must be a non-empty string")
    if len(value) > MAX_NAME:
        raise ValueError(f"{kind} is {len(value)} characters long; the limit is {MAX_NAME}")
    if _CONTROL.search(value):
        raise ValueError(f"{kind} must not contain control characters")


class Experiment:
    """One run: ``tracklane.init(project, name, tags)`` makes one. Returns at once: the
    experiment is registered in the background, so a slow or absent server never holds up
    training. Logging calls only append to in-memory buffers; background threads ship them
    every 100 ms (or sooner when they are large).

    The server and key come from ``server``/``api_key``, else ``TRACKLANE_SERVER`` and
    ``TRACKLANE_API_KEY``, else the credentials ``make up`` wrote.

    Captured automatically, each switchable off: the console (``capture_console``: stdout and
    stderr), argparse arguments (``capture_args``: section "Args"), the execution
    (``capture_execution``: git repository, branch, commit and diff, entry point, packages,
    runtime, and the environment variables matching ``capture_env`` or
    ``TRACKLANE_CAPTURE_ENV``), ``plt.show()`` figures and TensorBoard scalars
    (``capture_frameworks``), and machine metrics every ``monitor_interval`` seconds (None: off).

    ``offline=True`` (or ``TRACKLANE_OFFLINE=1``) writes everything to disk for
    ``tracklane sync``. ``on_abort`` runs when the experiment is stopped from outside, before
    :class:`InterruptedExperiment` is raised in the main thread. ``close`` waits up to
    ``flush_timeout`` seconds for the server.
    """

    def __init__(
        self,
        project: str,
        name: str,
        tags: list[str] | None = None,
        *,
        server: str | None = None,
        api_key: str | None = None,
        flush_timeout: float = 60.0,
        offline: bool | None = None,
        capture_console: bool = True,
        capture_args: bool = True,
        capture_execution: bool = True,
        capture_env: Sequence[str] | None = None,
        capture_frameworks: bool = True,
        monitor_interval: float | None = 5.0,
        on_abort: Callable[[], None] | None = None,
    ) -> None:
        _check_name("project", project)
        if any(not p.strip() for p in project.split("/")):
            raise ValueError("project: nested projects are 'a/b/c' with no empty part")
        _check_name("name", name)
        for tag in tags or []:
            _check_name("tag", tag)
        self.offline = _config.offline() if offline is None else offline
        cfg = _config.resolve(server, api_key, offline=self.offline)
        self.id = uuid.uuid4().hex
        self.project = project
        self.name = name
        self.server = cfg.server
        self.flush_timeout = flush_timeout
        self.closed = False
        self._closing = False
        self.status = "running"
        self.on_abort = on_abort
        self.stop_reason: str | None = None
        self._seq = 0
        self._lock = threading.Lock()  # the scalar buffer
        self._emit_lock = threading.Lock()  # sequence numbers, in the order batches are queued
        self._series: dict[tuple[str, str], int] = {}
        self._series_list: list[tuple[str, str]] = []
        self._reset_buffer()
        self._nan_value: float | None = None
        self._inf_value: float | None = None
        self._console: list[tuple[str, float, int, int]] = []
        self._console_lock = threading.Lock()
        self.console_dropped = 0
        open_request = ingest_pb2.OpenExperimentRequest(
            experiment_id=self.id,
            project=project,
            name=name,
            tags=list(tags or []),
            user=getpass.getuser(),
            started_at=time.time(),
        )
        self.directory = _config.cache_dir() / "offline" / self.id
        self._sender: Sender | OfflineWriter
        if self.offline:
            self._sender = OfflineWriter(self.directory, open_request)
            self._uploader: Uploader | None = None
        else:
            self._sender = Sender(
                cfg.server,
                cfg.api_key,
                open_request,
                self._on_control,
                spill_dir=self.directory,
                memory_limit=_config.memory_limit(),
            )
            self._uploader = Uploader(cfg.server, cfg.api_key, self.id, self._sender.opened)
        self._wake = threading.Event()
        self._stop_flusher = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name=f"tracklane-flush-{self.id[:8]}", daemon=True)
        self._flusher.start()
        _live.add(self)
        _install_hooks()
        self._captures = {"console": capture_console, "args": capture_args, "frameworks": capture_frameworks}
        if capture_console:
            _capture.capture_console(self)
        if capture_args:
            _capture.capture_args(self)
        if capture_frameworks:
            _capture.capture_frameworks(self)
        self._execution: threading.Thread | None = None
        if capture_execution:
            env = list(capture_env) if capture_env is not None else _config.capture_env()
            self._execution = threading.Thread(target=self._report_execution, args=(env,), daemon=True)
            self._execution.start()
        self._monitor = _capture.Monitor(self, monitor_interval) if monitor_interval else None

    def __repr__(self) -> str:
        return f"<tracklane.Experiment id={self.id} project={self.project!r} name={self.name!r} status={self.status}>"

    # -- events -------------------------------------------------------------------------------
    def _emit(self, **payload: Any) -> None:
        """Queues one event with the next sequence number (assigned in queue order)."""
        if self.closed and "status_changed" not in payload:
            raise RuntimeError(f"experiment {self.id} is closed")
        with self._emit_lock:
            self._seq += 1
            event = events_pb2.Event(seq=self._seq, client_time=time.time(), **payload)
            self._sender.enqueue(ingest_pb2.EventBatch(experiment_id=self.id, events=[event]))

    # -- logging -----------------------------------------------------------------------------
    def log_scalar(self, metric: str, variant: str, value: float, iteration: int) -> None:
        """Records one point of the series ``metric``/``variant`` (ClearML's title/series).

        Raises ValueError for a bad name or an iteration outside 0..2**63-1. NaN and infinite
        values are stored as reported, unless :meth:`set_nan_value` / :meth:`set_inf_value`
        chose a replacement.
        """
        key = (metric, variant)
        index = self._series.get(key)
        if index is None:
            index = self._add_series(key)
        if iteration.__class__ is not int:
            iteration = int(iteration)
        if not 0 <= iteration <= MAX_ITERATION:
            raise ValueError(f"iteration {iteration} is outside 0..2**63-1")
        value = float(value)
        if not math.isfinite(value):
            value = self._replace_nonfinite(value)
        with self._lock:
            self._b_index.append(index)
            self._b_iter.append(iteration)
            self._b_value.append(value)
            self._b_ts.append(time.time())
            n = len(self._b_value)
        if n >= FLUSH_POINTS:
            self._wake.set()

    def log_scalars(self, values: dict[str, float], iteration: int, variant: str | None = None) -> None:
        """Logs several metrics at one iteration; each value's variant is ``variant`` or its key."""
        for metric, value in values.items():
            self.log_scalar(metric, variant or metric, value, iteration)

    def log_single_value(self, name: str, value: float) -> None:
        """A single number that sums up the run (test accuracy, parameter count): the series
        ``Summary``/``name`` at iteration 0, which tables and ``single`` widgets show."""
        self.log_scalar(SINGLE_VALUE_METRIC, name, value, iteration=0)

    def _add_series(self, key: tuple[str, str]) -> int:
        _check_name("metric", key[0])
        _check_name("variant", key[1])
        with self._lock:
            index = self._series.setdefault(key, len(self._series_list))
            if index == len(self._series_list):
                self._series_list.append(key)
        return index

    def _replace_nonfinite(self, value: float) -> float:
        if math.isnan(value):
            return value if self._nan_value is None else self._nan_value
        return value if self._inf_value is None else math.copysign(self._inf_value, value)

    def set_nan_value(self, value: float | None) -> None:
        """Report NaN scalars as ``value`` from now on (None: as NaN, the default)."""
        self._nan_value = None if value is None else float(value)

    def set_inf_value(self, value: float | None) -> None:
        """Report +Inf as ``value`` and -Inf as ``-value`` from now on (None: as they are)."""
        self._inf_value = None if value is None else abs(float(value))

    # -- shipping ----------------------------------------------------------------------------
    def _reset_buffer(self) -> None:
        self._b_index = array.array("I")
        self._b_iter = array.array("q")
        self._b_value = array.array("d")
        self._b_ts = array.array("d")

    def flush(self) -> None:
        """Moves what is buffered to the sender (it still travels in the background)."""
        while True:
            with self._lock:
                if not self._b_value:
                    return
                index, its, values, ts = self._b_index, self._b_iter, self._b_value, self._b_ts
                self._reset_buffer()
                series = list(self._series_list)
                if len(values) > FLUSH_POINTS:  # keep each event under the size limit
                    self._b_index.extend(index[FLUSH_POINTS:])
                    self._b_iter.extend(its[FLUSH_POINTS:])
                    self._b_value.extend(values[FLUSH_POINTS:])
                    self._b_ts.extend(ts[FLUSH_POINTS:])
                    for column in (index, its, values, ts):
                        del column[FLUSH_POINTS:]
            self._ship(series, index, its, values, ts)

    def _ship(
        self,
        series: list[tuple[str, str]],
        index: array.array[int],
        its: array.array[int],
        values: array.array[float],
        ts: array.array[float],
    ) -> None:
        if sys.byteorder != "little":  # the wire is little-endian
            for column in (index, its, values, ts):
                column.byteswap()
        self._emit(
            scalars=events_pb2.ScalarBatch(
                series=[events_pb2.SeriesKey(metric=m, variant=v) for m, v in series],
                series_index=index.tobytes(),
                iterations=its.tobytes(),
                values=values.tobytes(),
                timestamps=ts.tobytes(),
            )
        )

    def _flush_loop(self) -> None:
        while not self._stop_flusher.is_set():
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            try:
                self.flush()
                self._flush_console()
                if self._captures["frameworks"]:
                    _capture.patch_loaded_frameworks()
            except Exception:  # never let a bug here end the shipping
                log.exception("tracklane: flushing failed")

    # -- parameters, configuration, properties, tags --------------------------------------------
    def log_params(self, params: Mapping[str, Any], section: str = "General") -> None:
        """Records hyperparameters under ``section`` (nested dicts become ``a/b`` names). Values
        are kept as text with their Python type; logging a name again replaces its value."""
        flat = _flatten(params)
        if not flat:
            return
        _check_name("section", section)
        out = []
        for name, value in flat.items():
            _check_name("parameter name", name)
            text = value if isinstance(value, str) else _text(value)
            if len(text) > MAX_VALUE:
                raise ValueError(f"parameter {name}: the value is {len(text)} characters; the limit is {MAX_VALUE}")
            out.append(events_pb2.Param(name=name, value=text, type=type(value).__name__))
        for i in range(0, len(out), 5000):
            self._emit(params_set=events_pb2.ParamsSet(section=section, params=out[i : i + 5000]))

    def connect(self, obj: Any, name: str = "General") -> Any:
        """Records an ``argparse.Namespace``, a dict or an object's public attributes as the
        hyperparameter section ``name``; returns ``obj`` unchanged."""
        if isinstance(obj, argparse.Namespace):
            values = vars(obj)
        elif isinstance(obj, Mapping):
            values = dict(obj)
        else:
            values = {k: v for k, v in vars(obj).items() if not k.startswith("_") and not callable(v)}
        self.log_params(values, section=name)
        return obj

    def connect_configuration(
        self, configuration: Mapping[str, Any] | str | os.PathLike[str], name: str = "General", description: str = ""
    ) -> Any:
        """Stores a configuration object: a dict (kept as JSON), YAML text, or the path of a
        YAML/JSON/text file (its content). Returns what it was given."""
        _check_name("configuration name", name)
        if isinstance(configuration, Mapping):
            text, kind = json.dumps(configuration, indent=2, default=str, sort_keys=True), "json"
        elif isinstance(configuration, os.PathLike) or (
            isinstance(configuration, str) and "\n" not in configuration and Path(configuration).is_file()
        ):
            path = Path(configuration)
            text = path.read_text()
            suffix = path.suffix.lower()
            kind = "yaml" if suffix in (".yaml", ".yml") else "json" if suffix == ".json" else "text"
        else:
            text, kind = str(configuration), "yaml"
        self._emit(
            configuration_set=events_pb2.ConfigurationSet(
                name=name, text=text, content_type=kind, description=description
            )
        )
        return configuration

    def set_user_properties(self, **properties: Any) -> None:
        """Free key/value properties (filterable as ``tags.<key>`` in the experiment table)."""
        if properties:
            for key in properties:
                _check_name("property", key)
            self._emit(properties_set=events_pb2.PropertiesSet(set={k: _text(v) for k, v in properties.items()}))

    def add_tags(self, *tags: str) -> None:
        for tag in tags:
            _check_name("tag", tag)
        if tags:
            self._emit(experiment_edited=events_pb2.ExperimentEdited(add_tags=list(tags)))

    def _report_args(self, values: Mapping[str, Any]) -> None:
        if not self.closed:
            self.log_params(values, section="Args")

    def _report_execution(self, capture_env: list[str]) -> None:
        try:
            info = _capture.execution_info(capture_env)
            if not self.closed:
                self._emit(execution_reported=events_pb2.ExecutionReported(**info))
        except Exception as exc:  # capture is best effort: never disturb the run
            log.warning("tracklane: could not capture the execution details: %s", exc)

    # -- plots --------------------------------------------------------------------------------
    def _plot(self, title: str, series: str, iteration: int, kind: str, figure_json: str) -> None:
        _check_name("title", title)
        _check_name("series", series)
        self._emit(
            plot_reported=events_pb2.PlotReported(
                metric=title, variant=series, iteration=_iteration(iteration), kind=kind, figure_json=figure_json
            )
        )

    def log_plot(self, title: str, series: str, figure: Any, iteration: int = 0) -> None:
        """A plotly figure (or its dict form) or a matplotlib figure."""
        kind, text = _plots.figure_json(figure)
        self._plot(title, series, iteration, kind, text)

    def log_table(
        self, title: str, series: str, table: Any, iteration: int = 0, header: Sequence[str] | None = None
    ) -> None:
        """A pandas DataFrame, or rows (the first one is the header unless ``header`` is given)."""
        self._plot(title, series, iteration, "table", _plots.table_json(title, table, header))

    def log_confusion_matrix(
        self, title: str, series: str, matrix: Any, labels: Sequence[str] | None = None, iteration: int = 0
    ) -> None:
        """A square matrix: rows are the actual classes, columns the predicted ones."""
        self._plot(title, series, iteration, "confusion_matrix", _plots.confusion_json(title, matrix, labels))

    def log_histogram(
        self, title: str, series: str, values: Any, iteration: int = 0, bins: int | Sequence[float] = 30
    ) -> None:
        """The distribution of ``values`` (e.g. a layer's weights) at this iteration."""
        self._plot(title, series, iteration, "histogram", _plots.histogram_json(title, values, bins))

    # -- console ------------------------------------------------------------------------------
    def log_text(self, text: str, level: str = "info") -> None:
        """A message in the experiment's console (besides the captured stdout/stderr)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        for line in str(text).split("\n"):
            self._console_line(_capture.collapse(line), LEVELS[level], 0)

    def _console_line(self, text: str, level: int, source: int) -> None:
        with self._console_lock:
            self._console.append((text, time.time(), level, source))
            if len(self._console) > MAX_CONSOLE_BUFFER:
                del self._console[0]
                self.console_dropped += 1

    def _flush_console(self) -> None:
        with self._console_lock:
            lines, self._console = self._console, []
        start = 0
        while start < len(lines):
            size, end = 0, start
            while end < len(lines) and end - start < CONSOLE_EVENT_LINES and size < CONSOLE_EVENT_BYTES:
                size += len(lines[end][0]) + 16
                end += 1
            chunk = lines[start:end]
            self._emit(
                console_lines=events_pb2.ConsoleLines(
                    text=[c[0] for c in chunk],
                    timestamps=np.array([c[1] for c in chunk], dtype="<f8").tobytes(),
                    levels=bytes(c[2] for c in chunk),
                    sources=bytes(c[3] for c in chunk),
                )
            )
            start = end

    # -- files: debug samples, artifacts, models ----------------------------------------------
    def _upload(self, key: str, path: Path, content_type: str, then: Callable[[events_pb2.FileReference], None],
                remove_after: bool = False) -> None:  # fmt: skip
        if self.closed:
            raise RuntimeError(f"experiment {self.id} is closed")
        if self._uploader is None:  # offline: keep the file beside the journal for `tracklane sync`
            target = self.directory / "files" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.move if remove_after else shutil.copyfile)(str(path), str(target))
            then(file_reference(target, key, content_type))
            return
        self._uploader.submit(Upload(key, path, content_type, then, remove_after))

    def _sample(self, kind: str, title: str, series: str, iteration: int, path: Path, content_type: str,
                temporary: bool) -> None:  # fmt: skip
        _check_name("title", title)
        _check_name("series", series)
        it = _iteration(iteration)
        key = f"debug/{_h(title)}/{_h(series)}/{it:020d}-{uuid.uuid4().hex[:8]}{path.suffix.lower()}"

        def then(ref: events_pb2.FileReference) -> None:
            self._emit(
                debug_sample=events_pb2.DebugSample(metric=title, variant=series, iteration=it, kind=kind, file=ref)
            )

        self._upload(key, path, content_type, then, remove_after=temporary)

    def log_image(self, title: str, series: str, image: Any, iteration: int = 0) -> None:
        """A debug image: a file path, PNG/JPEG bytes, a numpy array (HxW or HxWxC; floats in
        0..1 or uint8), a PIL image or a matplotlib figure."""
        if isinstance(image, str | os.PathLike):
            path = Path(image)
            self._sample("image", title, series, iteration, path, _content_type(path, "image/png"), False)
            return
        png = _png(image)
        self._sample("image", title, series, iteration, spool_bytes(png, ".png"), "image/png", True)

    def log_audio(
        self, title: str, series: str, audio: Any, iteration: int = 0, sample_rate: int | None = None
    ) -> None:
        """A debug audio clip: a file path, or samples (a numpy array in -1..1, mono or
        frames x channels) with their ``sample_rate``."""
        if isinstance(audio, str | os.PathLike):
            path = Path(audio)
            self._sample("audio", title, series, iteration, path, _content_type(path, "audio/wav"), False)
            return
        if sample_rate is None:
            raise ValueError("log_audio needs sample_rate= for raw samples")
        self._sample(
            "audio", title, series, iteration, spool_bytes(_wav(audio, sample_rate), ".wav"), "audio/wav", True
        )

    def log_video(self, title: str, series: str, video: str | os.PathLike[str] | bytes, iteration: int = 0) -> None:
        """A debug video: a file path (mp4, webm, gif) or mp4 bytes."""
        if isinstance(video, bytes):
            self._sample("video", title, series, iteration, spool_bytes(video, ".mp4"), "video/mp4", True)
            return
        path = Path(video)
        self._sample("video", title, series, iteration, path, _content_type(path, "video/mp4"), False)

    def log_html(self, title: str, series: str, html: str | os.PathLike[str], iteration: int = 0) -> None:
        """A debug HTML page: markup, or the path of an .html file."""
        if isinstance(html, os.PathLike) or (isinstance(html, str) and "<" not in html and Path(html).is_file()):
            self._sample("html", title, series, iteration, Path(html), "text/html", False)
            return
        self._sample("html", title, series, iteration, spool_bytes(str(html).encode(), ".html"), "text/html", True)

    def upload_artifact(self, name: str, artifact: Any, metadata: Mapping[str, Any] | None = None) -> None:
        """Stores ``artifact`` under ``name`` (a new upload under the same name replaces it): a
        dict or list (JSON), a pandas DataFrame (CSV), a numpy array (.npy), a file or a folder
        (zipped) by path, or any other object (pickled). ``metadata`` is kept with it."""
        _check_name("artifact name", name)
        meta = {str(k): _text(v) for k, v in (metadata or {}).items()}
        path, kind, preview, temporary = _serialize(artifact)
        key = f"artifacts/{_safe(name)}/{path.name if not temporary else 'data' + path.suffix}"

        def then(ref: events_pb2.FileReference) -> None:
            self._emit(
                artifact_registered=events_pb2.ArtifactRegistered(
                    name=name, file=ref, metadata=meta, kind="artifact", type=kind, preview=preview[:4096]
                )
            )

        self._upload(key, path, _content_type(path, "application/octet-stream"), then, remove_after=temporary)

    def log_model(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        framework: str | None = None,
        input: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Registers a model file or folder (zipped): an output model of this run, or with
        ``input=True`` one it started from."""
        source = Path(path)
        if not source.exists():
            raise FileNotFoundError(f"no model at {source}")
        name = name or source.stem
        _check_name("model name", name)
        meta = {str(k): _text(v) for k, v in (metadata or {}).items()}
        temporary = source.is_dir()
        file = zip_folder(source) if temporary else source
        key = f"models/{_safe(name)}/{file.name}"

        def then(ref: events_pb2.FileReference) -> None:
            self._emit(
                artifact_registered=events_pb2.ArtifactRegistered(
                    name=name,
                    file=ref,
                    metadata=meta,
                    kind="model",
                    type="folder" if temporary else "file",
                    framework=framework or "",
                    input=input,
                )
            )

        self._upload(key, file, _content_type(file, "application/octet-stream"), then, remove_after=temporary)

    # -- stop from outside --------------------------------------------------------------------
    def set_abort_callback(self, callback: Callable[[], None] | None) -> None:
        """Runs ``callback`` (in a background thread) when the experiment is stopped from
        outside, before InterruptedExperiment is raised in the main thread."""
        self.on_abort = callback

    def _on_control(self, control: ingest_pb2.Control) -> None:
        if control.action != "stop" or self.stop_reason is not None or self.closed:
            return
        self.stop_reason = control.reason or "stopped from outside"
        log.warning("tracklane: experiment %s was stopped: %s", self.id, self.stop_reason)
        if self.on_abort is not None:
            try:
                self.on_abort()
            except Exception:
                log.exception("tracklane: the abort callback failed")
        _interrupt_main(self.stop_reason)

    # -- ending ------------------------------------------------------------------------------
    def close(self, status: str | None = None, reason: str = "") -> bool:
        """Waits for uploads, flushes, marks the experiment ``status`` and waits (up to
        ``flush_timeout`` s) until the server acknowledged everything. Returns False if
        something could not be delivered; it is then kept on disk for ``tracklane sync``.

        Without ``status`` the run ends ``completed``, or ``stopped`` with the request's reason
        when someone stopped it, even if the script caught ``InterruptedExperiment`` and went on
        to end normally. An explicit ``status`` always wins."""
        if status is None:
            status, reason = ("stopped", self.stop_reason) if self.stop_reason is not None else ("completed", reason)
        if status not in _STATUS:
            raise ValueError(f"status must be one of {', '.join(_STATUS)}")
        with _closing_lock:
            if self._closing:
                return True
            self._closing = True
        deadline = time.monotonic() + self.flush_timeout
        if self._monitor is not None:
            self._monitor.stop()
        if self._captures["console"]:
            _capture.release_console(self)
        if self._captures["args"]:
            _capture.release_args(self)
        if self._captures["frameworks"]:
            _capture.release_frameworks(self)
        uploads_done = self._uploader.close(self.flush_timeout) if self._uploader is not None else True
        self._stop_flusher.set()
        self._wake.set()
        self._flusher.join()
        if self._execution is not None:  # a short run still gets its execution details (git, pip take seconds)
            self._execution.join(max(0.0, min(EXECUTION_WAIT, deadline - time.monotonic())))
        self.flush()
        self._flush_console()
        self.closed = True  # from here on only the final status is sent
        self._emit(status_changed=events_pb2.StatusChanged(status=_STATUS[status], reason=reason, at=time.time()))
        delivered = self._sender.close(max(1.0, deadline - time.monotonic())) and uploads_done
        self.status = status
        _live.discard(self)
        if self.offline:
            log.warning("tracklane: offline experiment saved in %s; upload it with `tracklane sync %s`",
                        self.directory, self.directory)  # fmt: skip
        elif not delivered:
            log.warning(
                "tracklane: %s of experiment %s could not be delivered to %s%s",
                "uploads" if not uploads_done else "events",
                self.id,
                self.server,
                f"; saved in {self._sender.saved_to}: run `tracklane sync {self._sender.saved_to}`"
                if self._sender.saved_to else "",
            )  # fmt: skip
        return delivered

    def __enter__(self) -> Experiment:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()  # completed, or stopped when a stop request came
        else:
            self.close(*_ending(exc_type, exc))


def _ending(exc_type: type[BaseException], exc: BaseException | None) -> tuple[str, str]:
    if issubclass(exc_type, InterruptedExperiment):
        return "stopped", str(exc) or "stopped from outside"
    if issubclass(exc_type, KeyboardInterrupt):
        return "stopped", "KeyboardInterrupt"
    return "failed", f"{exc_type.__name__}: {exc}"[:4096]


# -- helpers --------------------------------------------------------------------------------------
def _iteration(iteration: int) -> int:
    it = int(iteration)
    if not 0 <= it <= MAX_ITERATION:
        raise ValueError(f"iteration {it} is outside 0..2**63-1")
    return it


def _h(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()[:12]  # noqa: S324 (a folder name, not security)


def _safe(name: str) -> str:
    """A name as one safe key segment (readable, and unique through its hash)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80].strip(".") + "-" + _h(name)[:8]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out


def _content_type(path: Path, default: str) -> str:
    return mimetypes.guess_type(path.name)[0] or default


def _png(image: Any) -> bytes:
    if isinstance(image, bytes):
        return image
    if _plots.is_matplotlib(image):
        import io

        buf = io.BytesIO()
        image.savefig(buf, format="png")
        return buf.getvalue()
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("log_image of arrays or PIL images needs Pillow: pip install pillow") from None
    import io

    if not isinstance(image, Image.Image):
        arr = np.asarray(image)
        if arr.dtype.kind == "f":
            arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        image = Image.fromarray(arr.astype(np.uint8))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _wav(samples: Any, sample_rate: int) -> bytes:
    import io

    arr = np.asarray(samples, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    pcm = (np.clip(arr, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _serialize(obj: Any) -> tuple[Path, str, str, bool]:
    """(file, type, short preview, whether the file is a temporary one)."""
    if isinstance(obj, str | os.PathLike) and Path(obj).exists():
        path = Path(obj)
        if path.is_dir():
            return zip_folder(path), "folder", "", True
        return path, "file", "", False
    if isinstance(obj, Mapping | list | tuple):
        text = json.dumps(obj, indent=2, default=str)
        return spool_bytes(text.encode(), ".json"), "dict" if isinstance(obj, Mapping) else "list", text[:4096], True
    if hasattr(obj, "to_csv") and hasattr(obj, "columns"):  # a pandas DataFrame
        return spool_bytes(obj.to_csv(index=True).encode(), ".csv"), "dataframe", obj.head(20).to_string(), True
    if isinstance(obj, np.ndarray):
        import io

        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return spool_bytes(buf.getvalue(), ".npy"), "numpy", f"array {obj.dtype} {obj.shape}", True
    if isinstance(obj, str):
        return spool_bytes(obj.encode(), ".txt"), "text", obj[:4096], True
    import pickle

    return spool_bytes(pickle.dumps(obj), ".pkl"), "pickle", repr(obj)[:4096], True


# -- process-wide hooks ---------------------------------------------------------------------------
_live: weakref.WeakSet[Experiment] = weakref.WeakSet()
_closing_lock = threading.Lock()
_hooks_installed = False
_stop_signal_ready = False
_pending_stops: list[str] = []


def _install_hooks() -> None:
    """Uncaught exceptions end live experiments as failed (stopped for InterruptedExperiment);
    a stop from outside interrupts the main thread through SIGUSR2 when it is free to use."""
    global _hooks_installed, _stop_signal_ready
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        for exp in list(_live):
            exp.close(*_ending(exc_type, exc))
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    free = hasattr(signal, "SIGUSR2") and signal.getsignal(signal.SIGUSR2) in (signal.SIG_DFL, None)
    if threading.current_thread() is threading.main_thread() and free:
        signal.signal(signal.SIGUSR2, _on_stop_signal)
        _stop_signal_ready = True


def _on_stop_signal(signum: int, frame: Any) -> None:
    if _pending_stops:
        raise InterruptedExperiment(_pending_stops.pop(0))


def _interrupt_main(reason: str) -> None:
    """Raises InterruptedExperiment in the main thread, even while it sleeps or waits."""
    main = threading.main_thread()
    if _stop_signal_ready and main.ident is not None:
        _pending_stops.append(reason)
        signal.pthread_kill(main.ident, signal.SIGUSR2)
        return
    if main.ident is not None:  # no signal to use: raised at the main thread's next bytecode
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(main.ident), ctypes.py_object(InterruptedExperiment))


@atexit.register
def _close_all() -> None:
    for exp in list(_live):
        exp.close()  # completed, or stopped when a stop request came
