"""Figures the fault suites measure, gathered for one table at the end of the run (``make
chaos`` prints it; ``tests/conftest.py`` does the printing). Recorded only by what the tests
measured: a suite that did not run has no row."""

from __future__ import annotations

import array
import os
import time
from collections.abc import Callable

FIGURES: list[tuple[str, str, str]] = []  # (suite, figure, value)


def record(suite: str, figure: str, value: str) -> None:
    FIGURES.append((suite, figure, value))


def table() -> list[str]:
    if not FIGURES:
        return []
    suite_w = max(len(s) for s, _, _ in FIGURES)
    figure_w = max(len(f) for _, f, _ in FIGURES)
    return [f"{s:<{suite_w}}  {f:<{figure_w}}  {v}" for s, f, v in FIGURES]


class CallTimer:
    """Times calls inside a client process (the SDK's ``log_scalar`` in the fault suites) and
    tells what the thread did around the slowest one: ran on a CPU (``time.thread_time``), waited
    in the run queue for one (Linux's ``/proc/thread-self/schedstat``: the machine is busy), or
    neither — blocked on the GIL, a lock or a page fault, which would be the SDK's doing. Those
    are read just outside the timed part, so they describe a window a little wider than the call
    (its length is given too)."""

    def __init__(self) -> None:
        self.calls = array.array("d")  # seconds; 8 bytes a call, so millions fit
        self.worst = (0.0, 0.0, 0.0, 0)  # (the call's s, the window's s, s on a CPU, ns in the run queue)
        self._fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)

    def _queued(self) -> int:
        return int(os.pread(self._fd, 128, 0).split()[1])

    def call(self, fn: Callable[..., object], *args: object, **kwargs: object) -> None:
        w0, c0, q0 = time.perf_counter(), time.thread_time(), self._queued()
        t = time.perf_counter()
        fn(*args, **kwargs)
        took = time.perf_counter() - t
        if took > self.worst[0]:
            q1, c1, w1 = self._queued(), time.thread_time(), time.perf_counter()
            self.worst = (took, w1 - w0, c1 - c0, q1 - q0)
        self.calls.append(took)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.calls)
        took, window, on_cpu, queued = self.worst
        return {
            "max_ms": took * 1000,
            "p999_ms": ordered[int(len(ordered) * 0.999)] * 1000 if ordered else 0.0,
            "worst_window_ms": window * 1000,
            "worst_queued_ms": queued / 1e6,
            "worst_cpu_ms": on_cpu * 1000,
            "worst_blocked_ms": max(0.0, window * 1000 - on_cpu * 1000 - queued / 1e6),
        }


def record_calls(suite: str, summary: dict[str, float]) -> list[tuple[str, str]]:
    """The rows of a :meth:`CallTimer.summary` (recorded for the table, and returned)."""
    rows = [
        ("log_scalar worst / p99.9", f"{summary['max_ms']:.1f} ms / {summary['p999_ms']:.3f} ms"),
        (
            "around the worst call: waiting for a CPU / on one / blocked",
            f"{summary['worst_queued_ms']:.1f} / {summary['worst_cpu_ms']:.2f} / {summary['worst_blocked_ms']:.1f} ms"
            f" (of {summary['worst_window_ms']:.1f} ms)",
        ),
    ]
    for figure, value in rows:
        record(suite, figure, value)
    return rows
