"""Metrics read-model types and rules."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

XAXES = ("iter", "relative", "wall")
DEFAULT_SAMPLES = 2000
MAX_SAMPLES = 20_000


@dataclass(frozen=True)
class SeriesQuery:
    """One (metric, variant) series of one experiment, on one x-axis, in at most ``samples``
    buckets, optionally restricted to ``x_min <= x <= x_max`` (zoom)."""

    workspace: str
    experiment_id: str
    metric: str
    variant: str
    xaxis: str = "iter"
    samples: int = DEFAULT_SAMPLES
    x_min: float | None = None
    x_max: float | None = None

    def __post_init__(self) -> None:
        if self.xaxis not in XAXES:
            raise ValueError(f"xaxis: must be one of {', '.join(XAXES)}")
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise ValueError(f"samples: must be between 1 and {MAX_SAMPLES}")
        for name in ("x_min", "x_max"):
            bound = getattr(self, name)
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"{name}: must be a finite number")
        if self.x_min is not None and self.x_max is not None and self.x_min > self.x_max:
            raise ValueError("x_min: must not be greater than x_max")


@dataclass(frozen=True)
class SeriesResult:
    """Buckets in x order. A bucket of one point has min == max == mean == last."""

    metric: str
    variant: str
    total_points: int
    downsampled: bool
    x: list[float] = field(default_factory=list)
    min: list[float] = field(default_factory=list)
    max: list[float] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    count: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SeriesInfo:
    metric: str
    variant: str
    points: int


@dataclass(frozen=True)
class ConsoleLine:
    cursor: int  # (event seq << 20) | line index
    ts: float
    level: int
    source: int
    text: str


def console_cursor(seq: int, index: int) -> int:
    return (seq << 20) | index


@dataclass(frozen=True)
class PlotRow:
    metric: str
    variant: str
    iteration: int
    kind: str
    figure_json: str
    ts: float
    iterations: int  # how many iterations of this metric/variant have a plot
    stored_iterations: tuple[int, ...] = ()  # which ones, ascending (the newest MAX_PLOT_ITERATIONS)


@dataclass(frozen=True)
class SampleRow:
    metric: str
    variant: str
    iteration: int
    kind: str
    key: str
    size: int
    sha256: str
    content_type: str
    ts: float
    previous_iteration: int | None
    next_iteration: int | None
    iterations: int
    stored_iterations: tuple[int, ...] = ()
