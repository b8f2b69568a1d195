"""The experiment table's query language: MLflow's search syntax, extended with OR and
parentheses, compiled to a MongoDB filter in the subset nx-27017 and MongoDB answer alike.

    metrics.loss/train < 0.2 AND (params.lr = '0.1' OR tags.team = 'cv')
    attributes.status IN ('running', 'completed') AND attributes.name LIKE 'resnet%'

Identifiers are ``<kind>.<name>``:

* ``metrics.<metric>/<variant>`` — the series' last value; append ``.min``, ``.max`` or
  ``.last``. Without ``/`` the variant is the metric's own name (MLflow-style metrics, and
  ``log_scalars``). Quote names with other characters in backticks:
  ``metrics.`val loss/top-1`.max``.
* ``params.<section>/<name>`` — a hyperparameter, compared as text; without ``/`` the section
  is ``General``.
* ``tags.<key>`` — a user property (MLflow's key/value tags), compared as text.
* ``attributes.<name>`` — ``id``, ``name``, ``status``, ``user``, ``project``,
  ``description``, ``tags`` (labels: ``=`` means "has", ``IN`` "has any"), and the numbers
  ``created``, ``started``, ``updated``, ``ended`` (seconds since the epoch) and ``duration``.

Operators: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (numbers), ``LIKE``/``ILIKE`` (text, with
``%`` and ``_``), ``IN (…)``, ``NOT IN (…)``; ``AND`` binds tighter than ``OR``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

MAX_QUERY = 4096
MAX_TERMS = 100
MAX_IN = 100
MAX_DEPTH = 16  # parentheses within parentheses


class QueryError(ValueError):
    """A query that cannot be run; the message says where and why."""


_MD5_ID = re.compile(r"^md5:[0-9a-f]{32}$")


def _md5(text: str) -> str:
    """The document key of a name; ``md5:<32 hex>`` is such a key given directly (ClearML's
    metric/variant ids, which embeds carry)."""
    if _MD5_ID.match(text):
        return text[4:]
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (an id, not security)


# -- identifiers -----------------------------------------------------------------------------------
KIND_ALIASES = {
    "metrics": "metrics", "metric": "metrics",
    "params": "params", "param": "params", "parameters": "params", "hyperparameters": "params",
    "tags": "tags", "tag": "tags",
    "attributes": "attributes", "attribute": "attributes", "attr": "attributes", "run": "attributes",
}  # fmt: skip
TEXT_ATTRIBUTES = {"id": "_id", "name": "name", "status": "status", "user": "user", "project": "project",
                   "description": "description", "tags": "tags"}  # fmt: skip
NUMBER_ATTRIBUTES = {"created": "created_at", "started": "started_at", "updated": "updated_at", "ended": "ended_at",
                     "duration": "duration"}  # fmt: skip
STATUSES = {"running", "completed", "failed", "stopped"}
AGGREGATES = ("last", "min", "max")


_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_\-/:.]+$")


def identifier(kind: str, name: str) -> str:
    """The identifier a person writes for ``kind`` and ``name``, quoted in backticks (or double
    quotes) where the name would not read back as itself: ``metrics.`val loss/top-1```."""
    plain = _PLAIN_NAME.match(name) and not (kind == "metrics" and name.rpartition(".")[2] in AGGREGATES)
    if plain:
        return f"{kind}.{name}"
    return f"{kind}.`{name}`" if "`" not in name else f'{kind}."{name}"'


@dataclass(frozen=True)
class Column:
    """A resolved identifier: what the user wrote, where it lives, and how it compares."""

    text: str
    path: str
    numeric: bool
    label_list: bool = False  # attributes.tags: an array of labels

    def value_of(self, doc: dict[str, Any]) -> Any:
        cur: Any = doc
        for part in self.path.split("."):
            if not isinstance(cur, dict) or part not in cur:
                return None
            cur = cur[part]
        return cur


def column(kind: str, name: str, aggregate: str | None = None) -> Column:
    """Resolves ``kind.name[.aggregate]``; raises QueryError for what does not exist."""
    kind = KIND_ALIASES.get(kind.lower(), "")
    shown = f"{kind}.{name}" + (f".{aggregate}" if aggregate else "")
    if kind == "metrics":
        metric, slash, variant = name.rpartition("/")
        if not slash:
            metric, variant = name, name
        if not metric or not variant:
            raise QueryError(f"{shown}: a metric is metrics.<metric>/<variant>")
        return Column(shown, f"metrics.{_md5(metric)}.{_md5(variant)}.{aggregate or 'last'}", numeric=True)
    if aggregate:
        raise QueryError(f"{shown}: .{aggregate} applies to metrics only")
    if kind == "params":
        section, slash, param = name.partition("/")
        if not slash:
            section, param = "General", name
        return Column(shown, f"params.{_md5(section)}.{_md5(param)}.value", numeric=False)
    if kind == "tags":
        return Column(shown, f"properties.{_md5(name)}.value", numeric=False)
    if kind == "attributes":
        if name in TEXT_ATTRIBUTES:
            return Column(shown, TEXT_ATTRIBUTES[name], numeric=False, label_list=name == "tags")
        if name in NUMBER_ATTRIBUTES:
            return Column(shown, NUMBER_ATTRIBUTES[name], numeric=True)
        known = ", ".join(sorted([*TEXT_ATTRIBUTES, *NUMBER_ATTRIBUTES]))
        raise QueryError(f"{shown}: unknown attribute (one of {known})")
    raise QueryError(f"{shown}: identifiers start with metrics., params., tags. or attributes.")


# -- tokens ----------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<ident>[A-Za-z_]+\.(?:`[^`]+`|"[^"]+"|[A-Za-z0-9_\-/:.]+)(?:\.(?:last|min|max)\b)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<word>[A-Za-z]+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "ILIKE"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_QUERY:
        raise QueryError(f"the filter is {len(text)} characters long; the limit is {MAX_QUERY}")
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise QueryError(f"at position {pos}: unexpected {text[pos : pos + 10]!r}")
        kind = m.lastgroup or ""
        if kind == "word":
            if m.group().upper() not in KEYWORDS:
                raise QueryError(f"at position {pos}: unexpected word {m.group()!r} (an identifier is kind.name)")
            kind = m.group().upper()
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


def _split_ident(text: str) -> tuple[str, str, str | None]:
    kind, _, rest = text.partition(".")
    aggregate = None
    if rest[:1] in '`"':
        quote = rest[0]
        end = rest.index(quote, 1)
        name, tail = rest[1:end], rest[end + 1 :]
        if tail:
            aggregate = tail.removeprefix(".")
    else:
        name = rest
        if KIND_ALIASES.get(kind.lower()) == "metrics":
            base, dot, last = rest.rpartition(".")
            if dot and last in AGGREGATES:
                name, aggregate = base, last
    return kind, name, aggregate


# -- parsing and compiling -------------------------------------------------------------------------
class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.i, self.terms, self.depth = tokens, 0, 0, 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, what: str) -> Token:
        tok = self.peek()
        if tok is None or tok.kind != kind:
            where = f"at position {tok.pos}" if tok else "at the end"
            raise QueryError(f"{where}: expected {what}")
        self.i += 1
        return tok

    def parse(self) -> dict[str, Any]:
        if not self.tokens:
            return {}
        out = self.or_expr()
        if (tok := self.peek()) is not None:
            raise QueryError(f"at position {tok.pos}: unexpected {tok.text!r}")
        return out

    def _chain(self, keyword: str, operand: Any, mongo_op: str) -> dict[str, Any]:
        parts = [operand()]
        while (tok := self.peek()) is not None and tok.kind == keyword:
            self.i += 1
            parts.append(operand())
        return parts[0] if len(parts) == 1 else {mongo_op: parts}

    def or_expr(self) -> dict[str, Any]:
        return self._chain("OR", self.and_expr, "$or")

    def and_expr(self) -> dict[str, Any]:
        return self._chain("AND", self.atom, "$and")

    def atom(self) -> dict[str, Any]:
        tok = self.peek()
        if tok is not None and tok.kind == "lparen":
            if self.depth == MAX_DEPTH:
                raise QueryError(f"at position {tok.pos}: parentheses nest at most {MAX_DEPTH} deep")
            self.i += 1
            self.depth += 1
            inner = self.or_expr()
            self.take("rparen", "')'")
            self.depth -= 1
            return inner
        return self.comparison()

    def value(self, col: Column) -> Any:
        tok = self.peek()
        if tok is None or tok.kind not in ("string", "number"):
            where = f"at position {tok.pos}" if tok else "at the end"
            raise QueryError(f"{where}: expected a value for {col.text}")
        self.i += 1
        if col.numeric:
            if tok.kind != "number":
                raise QueryError(f"at position {tok.pos}: {col.text} is a number; got {tok.text}")
            return float(tok.text)
        if tok.kind != "string":
            raise QueryError(f"at position {tok.pos}: {col.text} is text; quote the value ('{tok.text}')")
        text = tok.text[1:-1].replace("''", "'")
        if col.path == "status" and text not in STATUSES:
            raise QueryError(f"at position {tok.pos}: status is one of {', '.join(sorted(STATUSES))}")
        return text

    def comparison(self) -> dict[str, Any]:
        ident = self.take("ident", "an identifier such as metrics.loss or attributes.status")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"at position {ident.pos}: at most {MAX_TERMS} comparisons")
        col = column(*_split_ident(ident.text))
        tok = self.peek()
        if tok is None:
            raise QueryError(f"at the end: expected an operator after {ident.text}")
        self.i += 1
        if tok.kind == "NOT":
            self.take("IN", "IN after NOT")
            return _in(col, self.value_list(col), negate=True)
        if tok.kind == "IN":
            return _in(col, self.value_list(col), negate=False)
        if tok.kind in ("LIKE", "ILIKE"):
            if col.numeric:
                raise QueryError(f"at position {tok.pos}: LIKE compares text; {col.text} is a number")
            pattern = self.value(col)
            regex = {"$regex": _like_to_regex(pattern)}
            if tok.kind == "ILIKE":
                regex["$options"] = "i"
            return {col.path: regex}
        if tok.kind != "op":
            raise QueryError(f"at position {tok.pos}: expected an operator, got {tok.text!r}")
        op = "!=" if tok.text == "<>" else tok.text
        value = self.value(col)
        if op in ("<", "<=", ">", ">=") and not col.numeric:
            raise QueryError(f"at position {tok.pos}: {op} compares numbers; {col.text} is text")
        mongo_op = {"=": None, "!=": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}[op]
        if mongo_op is None:
            return {col.path: value}
        if op == "!=":
            # "metrics.x != 1" is about experiments that have x (as in MLflow).
            return {col.path: {"$ne": value, "$exists": True}} if not col.label_list else {col.path: {"$nin": [value]}}
        return {col.path: {mongo_op: value}}

    def value_list(self, col: Column) -> list[Any]:
        self.take("lparen", "'(' after IN")
        values = [self.value(col)]
        while (tok := self.peek()) is not None and tok.kind == "comma":
            self.i += 1
            values.append(self.value(col))
        self.take("rparen", "')' closing the IN list")
        if len(values) > MAX_IN:
            raise QueryError(f"{col.text}: at most {MAX_IN} values in IN")
        return values


def _in(col: Column, values: list[Any], *, negate: bool) -> dict[str, Any]:
    if negate:
        return {col.path: {"$nin": values}} if col.label_list else {col.path: {"$nin": values, "$exists": True}}
    return {col.path: {"$in": values}}


def _like_to_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return "^" + "".join(out) + "$"


def compile_filter(text: str) -> dict[str, Any]:
    """The MongoDB filter for ``text`` (``{}`` for an empty filter); raises QueryError."""
    return _Parser(tokenize(text.strip())).parse()


def compile_columns(text: str, field: str) -> list[Column]:
    """A comma-separated list of identifiers (``columns=``, ``group_by=``)."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            tokens = tokenize(part)
            if len(tokens) != 1 or tokens[0].kind != "ident":
                raise QueryError(f"{part!r} is not an identifier such as metrics.loss/train.min")
            out.append(column(*_split_ident(tokens[0].text)))
        except QueryError as exc:
            raise QueryError(f"{field}: {exc}") from None
    return out


def compile_order(text: str) -> list[tuple[str, int]]:
    """``order_by``: identifiers, each optionally prefixed by ``-`` or followed by ASC/DESC."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        direction = 1
        if part.startswith("-"):
            part, direction = part[1:], -1
        words = part.split()
        if len(words) == 2 and words[1].upper() in ("ASC", "DESC"):
            part, direction = words[0], (1 if words[1].upper() == "ASC" else -1)
        columns = compile_columns(part, "order_by")
        if len(columns) != 1:  # "-" alone, or "- ,"
            raise QueryError(f"order_by: {part!r} names no column; e.g. -metrics.loss/train.min")
        out.append((columns[0].path, direction))
    return out
