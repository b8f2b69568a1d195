"""What the SDK captures without extra code: console output, argparse arguments, the git
state and environment of the run, machine metrics, ``plt.show()`` figures and TensorBoard
scalars. Each capture is switched on per experiment (see ``tracklane.init``) and costs the
training thread next to nothing: captured data goes to in-memory buffers that the experiment's
background thread ships.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.abc
import importlib.machinery
import importlib.metadata
import io
import logging
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tracklane.experiment import Experiment

log = logging.getLogger("tracklane")

MAX_LINE = 16 * 1024
MAX_DIFF = 512 * 1024
MAX_PACKAGES = 256 * 1024
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL", re.IGNORECASE)

# -- console --------------------------------------------------------------------------------------


class _Tee(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: writes go to the real stream and, line by line, to
    every experiment capturing the console. A line rewritten with ``\\r`` (a progress bar) is
    kept once, as it finally looked."""

    def __init__(self, wrapped: TextIO, source: int) -> None:
        self.wrapped = wrapped
        self.source = source
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        n = self.wrapped.write(text)
        if _sinks:
            with self._lock:
                self._take(text)
        return n

    def _take(self, text: str) -> None:
        data = self._partial + text
        *lines, self._partial = data.split("\n")
        if len(self._partial) > MAX_LINE * 4:  # a never-ending line: cut it here
            lines.append(self._partial)
            self._partial = ""
        for line in lines:
            emit_line(collapse(line), self.source)

    def flush_partial(self) -> None:
        with self._lock:
            if self._partial:
                emit_line(collapse(self._partial), self.source)
                self._partial = ""

    def flush(self) -> None:
        self.wrapped.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, encoding, isatty, buffer ...
        return getattr(self.wrapped, name)


def collapse(line: str) -> str:
    """What a terminal finally shows of a line written with carriage returns."""
    line = line.rstrip("\r")
    return line.rsplit("\r", 1)[-1][:MAX_LINE]


_sinks: list[Experiment] = []
_tees: list[_Tee] = []
_console_lock = threading.Lock()


def emit_line(text: str, source: int) -> None:
    level = 4 if source == 2 else 2
    for exp in list(_sinks):
        exp._console_line(text, level, source)


def capture_console(exp: Experiment) -> None:
    with _console_lock:
        if not _tees:
            for name, source in (("stdout", 1), ("stderr", 2)):
                current = getattr(sys, name)
                if current is not None and not isinstance(current, _Tee):
                    tee = _Tee(current, source)
                    setattr(sys, name, tee)
                    _tees.append(tee)
        if exp not in _sinks:
            _sinks.append(exp)


def release_console(exp: Experiment) -> None:
    with _console_lock:
        for tee in _tees:
            tee.flush_partial()
        if exp in _sinks:
            _sinks.remove(exp)
        if not _sinks:  # the last one: give the streams back
            for tee in _tees:
                name = "stdout" if tee.source == 1 else "stderr"
                if getattr(sys, name) is tee:
                    setattr(sys, name, tee.wrapped)
            _tees.clear()


# -- argparse -------------------------------------------------------------------------------------
_last_args: dict[str, Any] | None = None
_original_parse_known_args: Callable[..., Any] | None = None
_live_args: list[Experiment] = []


def _parse_known_args(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
    assert _original_parse_known_args is not None
    namespace, extras = _original_parse_known_args(self, *args, **kwargs)
    global _last_args
    values = {k: v for k, v in vars(namespace).items() if not k.startswith("_")}
    _last_args = values
    for exp in list(_live_args):
        exp._report_args(values)
    return namespace, extras


def install_argparse_hook() -> None:
    """Wraps ArgumentParser.parse_known_args (parse_args calls it), once per process."""
    global _original_parse_known_args
    if _original_parse_known_args is None:
        _original_parse_known_args = argparse.ArgumentParser.parse_known_args
        argparse.ArgumentParser.parse_known_args = _parse_known_args  # type: ignore[method-assign]


def capture_args(exp: Experiment) -> None:
    """Arguments parsed before ``init`` are reported at once; later parses as they happen."""
    install_argparse_hook()
    _live_args.append(exp)
    if _last_args is not None:
        exp._report_args(_last_args)


def release_args(exp: Experiment) -> None:
    if exp in _live_args:
        _live_args.remove(exp)


# -- execution: git, entry point, packages, environment, runtime ----------------------------------
def _git(args: list[str], cwd: Path) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _without_credentials(url: str) -> str:
    return re.sub(r"(://)[^/@]+@", r"\1", url)


def execution_info(capture_env: list[str]) -> dict[str, Any]:
    cwd = Path.cwd()
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] not in ("", "-c") else None
    where = script.parent if script is not None and script.exists() else cwd
    root = _git(["rev-parse", "--show-toplevel"], where)
    info: dict[str, Any] = {
        "working_dir": str(cwd),
        "argv": shlex.join(sys.argv),
        "python": platform.python_version(),
        "entry_point": str(script) if script else (sys.argv[0] if sys.argv else ""),
    }
    if root:
        info["repository"] = _without_credentials(_git(["remote", "get-url", "origin"], where)) or root
        info["branch"] = _git(["rev-parse", "--abbrev-ref", "HEAD"], where)
        info["commit"] = _git(["rev-parse", "HEAD"], where)
        diff = _git(["diff", "HEAD"], where)
        if len(diff) > MAX_DIFF:
            diff = diff[: MAX_DIFF - 100] + "\n... (diff truncated)\n"
        info["diff"] = diff
        if script is not None and script.is_relative_to(root):
            info["entry_point"] = str(script.relative_to(root))
    packages = "\n".join(sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                                 if d.metadata["Name"]}, key=str.lower))  # fmt: skip
    info["packages"] = packages[:MAX_PACKAGES]
    info["environment"] = environment(capture_env)
    info["runtime"] = runtime_properties()
    return info


def environment(patterns: list[str]) -> dict[str, str]:
    """The variables matching the opted-in patterns; values of secret-looking names masked."""
    out = {}
    for name, value in os.environ.items():
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            out[name] = "***" if SECRET_NAME.search(name) else value[:4096]
    return dict(sorted(out.items())[:200])


def runtime_properties() -> dict[str, str]:
    props = {
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "hostname": socket.gethostname(),
        "cpu": _cpu_model(),
        "cpu_cores": str(os.cpu_count() or 0),
    }
    try:
        import psutil

        props["memory_gb"] = f"{psutil.virtual_memory().total / 1024**3:.1f}"
    except ImportError:
        pass
    props.update(_gpus())
    return props


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> dict[str, str]:
    try:
        import pynvml
    except ImportError:
        return {}
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        names = [str(pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)]
        return {
            "gpu_count": str(count),
            "gpus": ", ".join(names),
            "cuda_driver": str(pynvml.nvmlSystemGetDriverVersion()),
        }
    except Exception:  # no driver, no device: nothing to report
        return {}


# -- machine metrics ------------------------------------------------------------------------------
class Monitor:
    """Samples the machine every ``interval`` seconds as ``:monitor:*`` scalars (iteration: the
    seconds since the experiment started)."""

    def __init__(self, exp: Experiment, interval: float) -> None:
        self.exp = exp
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracklane-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            import psutil
        except ImportError:
            log.info("tracklane: install psutil for machine metrics")
            return
        started = time.monotonic()
        psutil.cpu_percent()
        disk0, net0, t0 = psutil.disk_io_counters(), psutil.net_io_counters(), time.monotonic()
        while not self._stop.wait(self.interval):
            it = int(time.monotonic() - started)
            now = time.monotonic()
            dt = max(now - t0, 1e-6)
            mem = psutil.virtual_memory()
            values = {
                (":monitor:cpu", "usage %"): psutil.cpu_percent(),
                (":monitor:memory", "used %"): mem.percent,
                (":monitor:memory", "used GB"): (mem.total - mem.available) / 1024**3,
                (":monitor:disk", "used %"): psutil.disk_usage(str(Path.cwd())).percent,
            }
            disk, net = psutil.disk_io_counters(), psutil.net_io_counters()
            if disk is not None and disk0 is not None:
                values[(":monitor:disk", "read MB/s")] = (disk.read_bytes - disk0.read_bytes) / dt / 1e6
                values[(":monitor:disk", "write MB/s")] = (disk.write_bytes - disk0.write_bytes) / dt / 1e6
            if net is not None and net0 is not None:
                values[(":monitor:network", "sent MB/s")] = (net.bytes_sent - net0.bytes_sent) / dt / 1e6
                values[(":monitor:network", "received MB/s")] = (net.bytes_recv - net0.bytes_recv) / dt / 1e6
            disk0, net0, t0 = disk, net, now
            values.update(_gpu_metrics())
            for (metric, variant), value in values.items():
                self.exp.log_scalar(metric, variant, float(value), it)


def _gpu_metrics() -> dict[tuple[str, str], float]:
    try:
        import pynvml
    except ImportError:
        return {}
    out: dict[tuple[str, str], float] = {}
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            util = pynvml.nvmlDeviceGetUtilizationRates(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            out[(f":monitor:gpu{i}", "usage %")] = float(util.gpu)
            out[(f":monitor:gpu{i}", "memory used %")] = 100.0 * mem.used / max(mem.total, 1)
            out[(f":monitor:gpu{i}", "temperature C")] = float(pynvml.nvmlDeviceGetTemperature(h, 0))
    except Exception:
        return {}
    return out


# -- matplotlib and TensorBoard ---------------------------------------------------------------------
_patched: set[str] = set()
_patch_lock = threading.Lock()
_live_frameworks: list[Experiment] = []


FRAMEWORK_MODULES = ("matplotlib.pyplot", "torch.utils.tensorboard.writer", "tensorboardX.writer")


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches a framework the moment its module finishes importing (after ``init``)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in FRAMEWORK_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                run = spec.loader.exec_module

                def exec_module(module: Any, run: Callable[[Any], None] = run) -> None:
                    run(module)
                    sys.modules[fullname] = module
                    patch_loaded_frameworks()

                spec.loader.exec_module = exec_module  # type: ignore[method-assign]
                return spec
        return None


_finder = _PatchOnImport()


def capture_frameworks(exp: Experiment) -> None:
    _live_frameworks.append(exp)
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    patch_loaded_frameworks()


def release_frameworks(exp: Experiment) -> None:
    if exp in _live_frameworks:
        _live_frameworks.remove(exp)


def patch_loaded_frameworks() -> None:
    """Patches the frameworks imported so far (cheap to call often: the experiment's background
    thread calls it, so a framework imported after ``init`` is caught too)."""
    with _patch_lock:  # the importing thread and the flusher may both get here
        # A module is in sys.modules while it is still executing: patch it only once the
        # attribute exists (the import hook calls again when it has finished).
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None and "matplotlib" not in _patched and hasattr(plt, "show"):
            _patched.add("matplotlib")
            _patch_pyplot(plt)
        for name in ("torch.utils.tensorboard.writer", "tensorboardX.writer"):
            writer = getattr(sys.modules.get(name), "SummaryWriter", None)
            if writer is not None and name not in _patched:
                _patched.add(name)
                _patch_summary_writer(writer)


def _patch_pyplot(plt: Any) -> None:
    original = plt.show
    counter = [0]

    def show(*args: Any, **kwargs: Any) -> Any:
        if _live_frameworks:
            for num in plt.get_fignums():
                fig = plt.figure(num)
                title = (fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else "") or f"Figure {num}"
                for exp in list(_live_frameworks):
                    try:
                        exp.log_plot(title, "plt.show", fig, iteration=counter[0])
                    except Exception as exc:
                        log.warning("tracklane: could not capture %s: %s", title, exc)
            counter[0] += 1
        return original(*args, **kwargs)

    plt.show = show


def _patch_summary_writer(cls: Any) -> None:
    original = cls.add_scalar

    def add_scalar(self: Any, tag: str, scalar_value: Any, global_step: int | None = None, *a: Any, **kw: Any) -> Any:
        result = original(self, tag, scalar_value, global_step, *a, **kw)
        metric, _, variant = str(tag).partition("/")
        try:
            value = float(scalar_value.item() if hasattr(scalar_value, "item") else scalar_value)
        except (TypeError, ValueError):
            return result
        for exp in list(_live_frameworks):
            exp.log_scalar(metric, variant or metric, value, int(global_step or 0))
        return result

    cls.add_scalar = add_scalar
