"""Turning what scripts plot into plotly figures (JSON), without requiring plotly, matplotlib
or pandas: each is used only when the object given comes from it."""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_FIGURE_BYTES = 760 * 1024  # the server takes 768 KiB of figure JSON per plot
MAX_TABLE_ROWS = 10_000


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    raise TypeError(f"cannot put a {type(obj).__name__} in a plot")


def _clean(value: Any) -> Any:
    """NaN and infinities are not JSON: plotly reads None as a gap."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_json(figure: dict[str, Any]) -> str:
    text = json.dumps(figure, default=_default, allow_nan=True)
    if "NaN" in text or "Infinity" in text:
        text = json.dumps(_clean(json.loads(text)), allow_nan=False)
    if len(text.encode()) > MAX_FIGURE_BYTES:
        raise ValueError(
            f"the figure is {len(text.encode())} bytes of JSON; the limit is {MAX_FIGURE_BYTES}: "
            "plot fewer points, or log the data with log_scalar / upload_artifact"
        )
    return text


def is_matplotlib(obj: Any) -> bool:
    return type(obj).__module__.startswith("matplotlib") and hasattr(obj, "savefig")


def figure_json(figure: Any) -> tuple[str, str]:
    """(kind, figure JSON) for a plotly figure or dict, or a matplotlib figure."""
    if is_matplotlib(figure):
        return "matplotlib", matplotlib_json(figure)
    if hasattr(figure, "to_plotly_json"):
        figure = figure.to_plotly_json()
    elif hasattr(figure, "to_dict") and not isinstance(figure, dict):
        figure = figure.to_dict()
    if not isinstance(figure, dict) or not isinstance(figure.get("data", []), list):
        raise TypeError(
            'log_plot takes a plotly figure, a {"data": [...], "layout": {...}} dict or a matplotlib figure'
        )
    return "plotly", to_json({"data": figure.get("data", []), "layout": figure.get("layout", {})})


def matplotlib_json(fig: Any) -> str:
    """A matplotlib figure as a PNG inside a plotly layout image (it keeps every detail the
    figure had; plotly cannot redraw arbitrary matplotlib artists)."""
    for dpi in (100, 72, 50):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        png = buf.getvalue()
        if len(png) * 4 / 3 < MAX_FIGURE_BYTES - 4096:
            break
    width, height = (float(v) * dpi for v in fig.get_size_inches())
    source = "data:image/png;base64," + base64.b64encode(png).decode()
    return to_json(
        {
            "data": [],
            "layout": {
                "width": width,
                "height": height,
                "xaxis": {"visible": False, "range": [0, 1]},
                "yaxis": {"visible": False, "range": [0, 1]},
                "images": [
                    {
                        "source": source,
                        "xref": "x",
                        "yref": "y",
                        "x": 0,
                        "y": 1,
                        "sizex": 1,
                        "sizey": 1,
                        "sizing": "contain",
                        "layer": "below",
                    }
                ],
                "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            },
        }
    )


def table_json(title: str, table: Any, header: Sequence[str] | None = None) -> str:
    """A pandas DataFrame, or rows (a list of lists, the first one the header unless ``header``
    is given), as a plotly table."""
    if hasattr(table, "columns") and hasattr(table, "to_numpy"):  # a DataFrame
        columns = [str(c) for c in table.columns]
        index_name = str(table.index.name or "")
        rows = [[idx, *row] for idx, row in zip(table.index.tolist(), table.to_numpy().tolist(), strict=True)]
        columns = [index_name, *columns]
    else:
        rows = [list(r) for r in table]
        if header is None:
            if not rows:
                raise ValueError("an empty table needs a header")
            columns, rows = [str(c) for c in rows[0]], rows[1:]
        else:
            columns = [str(c) for c in header]
    if len(rows) > MAX_TABLE_ROWS:
        raise ValueError(f"the table has {len(rows)} rows; the limit is {MAX_TABLE_ROWS} (upload it as an artifact)")
    cells = [[row[i] if i < len(row) else None for row in rows] for i in range(len(columns))]
    return to_json(
        {
            "data": [{"type": "table", "header": {"values": columns}, "cells": {"values": cells}}],
            "layout": {"title": {"text": title}},
        }
    )


def confusion_json(title: str, matrix: Any, labels: Sequence[str] | None) -> str:
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"a confusion matrix is square; got shape {m.shape}")
    names = [str(x) for x in labels] if labels is not None else [str(i) for i in range(m.shape[0])]
    if len(names) != m.shape[0]:
        raise ValueError(f"{len(names)} labels for a {m.shape[0]}x{m.shape[0]} matrix")
    return to_json(
        {
            "data": [
                {
                    "type": "heatmap",
                    "z": m.tolist(),
                    "x": names,
                    "y": names,
                    "colorscale": "Blues",
                    "texttemplate": "%{z}",
                    "hovertemplate": "actual %{y}<br>predicted %{x}<br>%{z}<extra></extra>",
                }
            ],
            "layout": {
                "title": {"text": title},
                "xaxis": {"title": {"text": "predicted"}},
                "yaxis": {"title": {"text": "actual"}, "autorange": "reversed"},
            },
        }
    )


def histogram_json(title: str, values: Any, bins: int | Sequence[float]) -> str:
    """Bins and counts, as a bar chart; the raw ``histogram`` (edges, counts) travels with it so
    that a 3-D histogram over iterations can be drawn later."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    counts, edges = np.histogram(v, bins=bins)
    return binned_json(title, edges, counts)


def binned_json(title: str, edges: Any, counts: Any) -> str:
    """A histogram already binned: ``len(edges) == len(counts) + 1``."""
    edges, counts = np.asarray(edges, dtype=float), np.asarray(counts)
    centers = (edges[:-1] + edges[1:]) / 2
    return to_json(
        {
            "data": [{"type": "bar", "x": centers.tolist(), "y": counts.tolist(), "width": np.diff(edges).tolist()}],
            "layout": {"title": {"text": title}, "bargap": 0},
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist(), "values": int(counts.sum())},
        }
    )
