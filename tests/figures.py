"""Figures the fault suites measure, gathered for one table at the end of the run (``make
chaos`` prints it; ``tests/conftest.py`` does the printing). Recorded only by what the tests
measured: a suite that did not run has no row."""

from __future__ import annotations

FIGURES: list[tuple[str, str, str]] = []  # (suite, figure, value)


def record(suite: str, figure: str, value: str) -> None:
    FIGURES.append((suite, figure, value))


def table() -> list[str]:
    if not FIGURES:
        return []
    suite_w = max(len(s) for s, _, _ in FIGURES)
    figure_w = max(len(f) for _, f, _ in FIGURES)
    return [f"{s:<{suite_w}}  {f:<{figure_w}}  {v}" for s, f, v in FIGURES]
