"""Reading events: parsing with upcast, and the columnar codecs of scalar and console batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tracklane_proto import events_pb2

from services.common.contract import upcast


def parse(data: bytes) -> events_pb2.Event:
    """An event as stored on the log, upcast to the current schema version."""
    event = events_pb2.Event()
    event.ParseFromString(data)
    return upcast(event)


@dataclass(frozen=True)
class ScalarColumns:
    """A scalar batch decoded to numpy columns (zero-copy views on the message's bytes)."""

    metrics: npt.NDArray[np.object_]
    variants: npt.NDArray[np.object_]
    series_index: npt.NDArray[np.uint32]
    iterations: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def decode(cls, batch: events_pb2.ScalarBatch) -> ScalarColumns:
        """Decodes; raises ValueError naming the column when the arrays do not fit together."""
        n_series = len(batch.series)
        for name, width in (("series_index", 4), ("iterations", 8), ("values", 8), ("timestamps", 8)):
            if len(getattr(batch, name)) % width:
                raise ValueError(f"scalars.{name}: length is not a multiple of {width} bytes")
        index = np.frombuffer(batch.series_index, dtype="<u4")
        iterations = np.frombuffer(batch.iterations, dtype="<i8")
        values = np.frombuffer(batch.values, dtype="<f8")
        timestamps = np.frombuffer(batch.timestamps, dtype="<f8")
        n = len(values)
        for name, column in (("series_index", index), ("iterations", iterations), ("timestamps", timestamps)):
            if len(column) != n:
                raise ValueError(f"scalars.{name}: {len(column)} entries for {n} values")
        if n and int(index.max()) >= n_series:
            raise ValueError(f"scalars.series_index: refers to series {int(index.max())} of {n_series}")
        metrics = np.array([s.metric for s in batch.series], dtype=object)
        variants = np.array([s.variant for s in batch.series], dtype=object)
        return cls(metrics, variants, index, iterations, values, timestamps)


@dataclass(frozen=True)
class ConsoleColumns:
    """A console event decoded: the text of each line with its time, level and source."""

    text: list[str]
    timestamps: npt.NDArray[np.float64]
    levels: npt.NDArray[np.uint8]
    sources: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        return len(self.text)

    @classmethod
    def decode(cls, lines: events_pb2.ConsoleLines) -> ConsoleColumns:
        if len(lines.timestamps) % 8:
            raise ValueError("console_lines.timestamps: length is not a multiple of 8 bytes")
        timestamps = np.frombuffer(lines.timestamps, dtype="<f8")
        levels = np.frombuffer(lines.levels, dtype="u1")
        sources = np.frombuffer(lines.sources, dtype="u1")
        n = len(lines.text)
        for name, column in (("timestamps", timestamps), ("levels", levels), ("sources", sources)):
            if len(column) != n:
                raise ValueError(f"console_lines.{name}: {len(column)} entries for {n} lines")
        return cls(list(lines.text), timestamps, levels, sources)
