"""MLflow's ``search_runs`` filter and ``order_by`` in Tracklane's table language.

The table language is MLflow's search syntax already (``metrics.loss < 0.2 AND params.lr =
'0.1'``, backticks around odd names, LIKE/ILIKE/IN), with the same meaning for metric keys,
params and tags (see :mod:`gateway.mlflow.mapping`). What differs is translated here: MLflow's
run attributes (``run_name``, ``status`` in capitals, ``start_time`` and ``end_time`` in
milliseconds, ``user_id``, ``run_id``) and double-quoted identifiers (``metrics."val loss"``).
"""

from __future__ import annotations

import re

from gateway.mlflow.mapping import FROM_MLFLOW_STATUS

_TOKEN = re.compile(
    r"""(?P<ident>(?:[A-Za-z_]+)\.(?:`[^`]*`|"[^"]*"|[\w.:/-]+))
      |(?P<string>'(?:[^'\\]|\\.)*')
      |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      |(?P<word>[A-Za-z_]+)
      |(?P<other>\s+|[^\s])""",
    re.VERBOSE,
)
ATTRIBUTES = {
    "run_name": "name", "status": "status", "user_id": "user", "run_id": "id", "start_time": "started",
    "end_time": "ended", "created": "created",
}  # fmt: skip
_KINDS = {"attributes": "attributes", "attribute": "attributes", "attr": "attributes", "run": "attributes",
          "metrics": "metrics", "metric": "metrics", "params": "params", "param": "params", "parameters": "params",
          "tags": "tags", "tag": "tags"}  # fmt: skip
_STATUS_NAMES = {"RUNNING": "running", "SCHEDULED": "running", "FINISHED": "completed", "FAILED": "failed",
                 "KILLED": "stopped"}  # fmt: skip


class SearchError(ValueError):
    """A filter or ordering that cannot be translated; the message says why."""


def _identifier(raw: str) -> tuple[str, str]:
    """(translated identifier, what its values are: status | ms | plain)."""
    kind, _, name = raw.partition(".")
    kind = _KINDS.get(kind.lower(), "")
    if not kind:
        raise SearchError(f"invalid identifier {raw!r}: use attributes., metrics., params. or tags.")
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        name = f"`{name[1:-1]}`"
    if kind != "attributes":
        return f"{kind}.{name}", "plain"
    bare = name.strip("`")
    if bare not in ATTRIBUTES:
        raise SearchError(f"invalid attribute {bare!r}: one of {', '.join(sorted(ATTRIBUTES))}")
    mode = "status" if bare == "status" else "ms" if bare in ("start_time", "end_time") else "plain"
    return f"attributes.{ATTRIBUTES[bare]}", mode


def _status(literal: str) -> str:
    status = literal[1:-1].upper()
    if status not in FROM_MLFLOW_STATUS:
        raise SearchError(f"invalid status {literal}: one of {', '.join(sorted(FROM_MLFLOW_STATUS))}")
    return f"'{_STATUS_NAMES[status]}'"


def translate_filter(text: str) -> str:
    out: list[str] = []
    mode = "plain"
    for m in _TOKEN.finditer(text or ""):
        kind, token = m.lastgroup, m.group()
        if kind == "ident":
            token, mode = _identifier(token)
        elif kind == "word" and token.upper() in ("AND", "OR"):
            mode = "plain"
        elif kind == "string" and mode == "status":
            token = _status(token)
        elif kind == "number" and mode == "ms":
            token = repr(float(token) / 1000)
        out.append(token)
    return "".join(out)


def translate_order(order_by: list[str]) -> str:
    """MLflow's ``["metrics.loss DESC", "attributes.start_time"]`` as ``-metrics.loss,attributes.started``."""
    parts = []
    for clause in order_by or ["attributes.start_time DESC"]:
        words = clause.strip().rsplit(None, 1)
        direction = ""
        if len(words) == 2 and words[1].upper() in ("ASC", "DESC"):
            clause, direction = words[0], words[1].upper()
        raw = clause.strip()
        if "." not in raw:
            raw = f"attributes.{raw}"
        ident, _ = _identifier(raw)
        parts.append(("-" if direction == "DESC" else "") + ident)
    return ",".join(parts)
