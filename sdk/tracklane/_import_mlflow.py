"""``tracklane import mlflow SOURCE``: every active experiment and run of an MLflow tracking
server (``http(s)://…``) or of an ``mlruns`` folder — metric histories with their own times and
steps, params, tags, statuses and times, artifacts — into Tracklane, through the gateway's MLflow
API (so the mapping is the one ``MLFLOW_TRACKING_URI=<gateway>`` gives).

Running it again imports nothing twice: an imported run carries the tag
``tracklane.imported_from`` (``mlflow:<source run id>``), and the importer sends only what the
Tracklane run does not have yet — the params, tags and points it lacks, the files it has not got,
a changed status — so a run that went on in the source since gets the rest.
"""

from __future__ import annotations

import math
import os
import sys
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tracklane._http import Client, HttpError

SOURCE_TAG = "tracklane.imported_from"
RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
# The MLflow tags a Tracklane run keeps (as properties or fields); the rest are MLflow's own
# bookkeeping (mlflow.source.type, mlflow.log-model.history, …), sent once when the run is made.
KEPT_SYSTEM_TAGS = ("mlflow.runName", "mlflow.note.content")
BATCH_METRICS, BATCH_PARAMS, BATCH_TAGS = 1000, 100, 100


@dataclass
class Run:
    run_id: str
    name: str
    status: str
    start_time: int
    end_time: int
    user: str
    artifact_uri: str
    params: dict[str, str]
    tags: dict[str, str]
    metric_keys: list[str]
    folder: Path | None = None  # an mlruns run's own folder
    deleted: bool = False


@dataclass
class Experiment:
    experiment_id: str
    name: str
    tags: dict[str, str]


Point = tuple[int, float, int]  # (timestamp ms, value, step)


class Source(Protocol):
    def experiments(self) -> list[Experiment]: ...
    def runs(self, experiment: Experiment) -> Iterator[Run]: ...
    def history(self, run: Run, key: str) -> list[Point]: ...
    def artifacts(self, run: Run) -> list[tuple[str, int]]: ...
    def read_artifact(self, run: Run, path: str) -> bytes: ...


# -- an MLflow tracking server ---------------------------------------------------------------
class ServerSource:
    """An MLflow tracking server, through its REST API (credentials: ``MLFLOW_TRACKING_TOKEN`` or
    ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``, as the ``mlflow`` client takes them)."""

    def __init__(self, uri: str, tracklane_key: str = "") -> None:
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
        token = os.environ.get("MLFLOW_TRACKING_TOKEN", "")
        # After the one-line switch these may hold the Tracklane key: never send it to the source.
        token = "" if tracklane_key and token == tracklane_key else token
        basic = (user, password) if user and password and password != tracklane_key else None
        self.http = Client(uri, token=token, basic=basic)

    def experiments(self) -> list[Experiment]:
        out, token = [], None
        while True:
            page = self.http.post(
                "api/2.0/mlflow/experiments/search",
                {"max_results": 1000, "view_type": "ACTIVE_ONLY", **({"page_token": token} if token else {})},
            )
            for e in page.get("experiments", []):
                tags = {t["key"]: t.get("value", "") for t in e.get("tags", [])}
                out.append(Experiment(str(e["experiment_id"]), e["name"], tags))
            token = page.get("next_page_token")
            if not token:
                return out

    def runs(self, experiment: Experiment) -> Iterator[Run]:
        token = None
        while True:
            body: dict[str, Any] = {"experiment_ids": [experiment.experiment_id], "run_view_type": "ACTIVE_ONLY",
                                    "max_results": 1000, "order_by": ["attributes.start_time ASC"]}  # fmt: skip
            if token:
                body["page_token"] = token
            page = self.http.post("api/2.0/mlflow/runs/search", body)
            for r in page.get("runs", []):
                yield run_of_json(r)
            token = page.get("next_page_token")
            if not token:
                return

    def history(self, run: Run, key: str) -> list[Point]:
        return history_of(self.http, run.run_id, key)

    def artifacts(self, run: Run) -> list[tuple[str, int]]:
        if run.artifact_uri.startswith("mlflow-artifacts:"):
            return list_proxied(self.http, _proxy_path(run.artifact_uri))
        local = _local(run.artifact_uri)
        if local is not None:
            return walk(local)
        print(
            f"  note: the artifacts of run {run.run_id} live at {run.artifact_uri}, which this importer cannot read "
            "(it reads the server's artifact proxy and local folders); they are left out",
            file=sys.stderr,
        )
        return []

    def read_artifact(self, run: Run, path: str) -> bytes:
        if run.artifact_uri.startswith("mlflow-artifacts:"):
            quoted = urllib.parse.quote(f"{_proxy_path(run.artifact_uri)}/{path}")
            return self.http.send("GET", self.http.url(f"api/2.0/mlflow-artifacts/artifacts/{quoted}"))
        local = _local(run.artifact_uri)
        assert local is not None  # artifacts() listed nothing otherwise
        return (local / path).read_bytes()


def run_of_json(r: dict[str, Any]) -> Run:
    info, data = r["info"], r.get("data", {})
    return Run(
        run_id=info["run_id"],
        name=info.get("run_name", ""),
        status=info.get("status", "RUNNING"),
        start_time=int(info.get("start_time") or 0),
        end_time=int(info.get("end_time") or 0),
        user=info.get("user_id", ""),
        artifact_uri=info.get("artifact_uri", ""),
        params={p["key"]: p.get("value", "") for p in data.get("params", [])},
        tags={t["key"]: t.get("value", "") for t in data.get("tags", [])},
        metric_keys=sorted({m["key"] for m in data.get("metrics", [])}),
        deleted=info.get("lifecycle_stage") == "deleted",
    )


def history_of(http: Client, run_id: str, key: str) -> list[Point]:
    out: list[Point] = []
    token = None
    while True:
        page = http.get("api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key=key, max_results=25000,
                        page_token=token)  # fmt: skip
        out += [
            (int(m.get("timestamp") or 0), float(m["value"]), int(m.get("step") or 0)) for m in page.get("metrics", [])
        ]
        token = page.get("next_page_token")
        if not token:
            return out


def _proxy_path(uri: str) -> str:
    """``mlflow-artifacts:/1/<run>/artifacts`` (or ``mlflow-artifacts://host/…``) as a proxy path."""
    return urllib.parse.urlparse(uri).path.strip("/")


def list_proxied(http: Client, root: str) -> list[tuple[str, int]]:
    """Every file under ``root`` of an artifact proxy, as (path relative to root, size)."""
    out: list[tuple[str, int]] = []
    pending = [""]
    while pending:
        sub = pending.pop()
        listing = http.get("api/2.0/mlflow-artifacts/artifacts", path=f"{root}/{sub}".rstrip("/"))
        for f in listing.get("files", []):
            rel = f"{sub}/{f['path']}".lstrip("/")
            if f.get("is_dir"):
                pending.append(rel)
            else:
                out.append((rel, int(f.get("file_size") or 0)))
    return sorted(out)


def _path(uri: str) -> Path:
    """A ``file:`` URI or a plain path as a path."""
    return Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path)) if uri.startswith("file:") else Path(uri)


def _local(uri: str) -> Path | None:
    """The local folder an artifact URI names, when there is one here."""
    return _path(uri) if uri and _path(uri).is_dir() else None


def walk(folder: Path) -> list[tuple[str, int]]:
    if not folder.is_dir():
        return []
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


# -- an mlruns folder ------------------------------------------------------------------------
def read_meta(path: Path) -> dict[str, Any]:
    """The ``meta.yaml`` MLflow's file store writes: a flat mapping of scalars (as PyYAML emits
    them: plain, single- or double-quoted, long values folded onto indented lines)."""
    entries: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if entries and (line[:1] in (" ", "\t") or not line.strip()):
            entries[-1].append(line.strip())  # a continuation (an empty one is a line break)
        elif line.strip() and not line.startswith("#"):
            entries.append([line])
    out: dict[str, Any] = {}
    for first, *rest in entries:
        name, _, value = first.partition(":")
        out[name.strip()] = _scalar(value.strip(), rest)
    return out


def _fold(lines: list[str], *, escaped: bool = False) -> str:
    """YAML's folding of a multi-line scalar: lines join with a space, each empty line is a line
    break; in a double-quoted one a backslash at a line's end joins without anything."""
    text, breaks = lines[0], 0
    for line in lines[1:]:
        if not line:
            breaks += 1
            continue
        if escaped and text.endswith("\\") and not text.endswith("\\\\"):
            text = text[:-1] + ("\n" * breaks) + line.removeprefix("\\")
        else:
            text += ("\n" * breaks if breaks else " ") + line
        breaks = 0
    return text


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
            "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
            "P": "\u2029"}  # fmt: skip
_HEX = {"x": 2, "u": 4, "U": 8}


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        code = body[i + 1]
        if code in _HEX:
            out.append(chr(int(body[i + 2 : i + 2 + _HEX[code]], 16)))
            i += 2 + _HEX[code]
        else:
            out.append(_ESCAPES.get(code, code))
            i += 2
    return "".join(out)


def _scalar(head: str, rest: list[str]) -> Any:
    while rest and not rest[-1]:
        rest = rest[:-1]  # blank lines after the value
    if head.startswith("'"):
        text = _fold([head, *rest])
        return text[1:-1].replace("''", "'")
    if head.startswith('"'):
        return _unescape(_fold([head, *rest], escaped=True)[1:-1])
    text = _fold([head, *rest]).strip()
    if text in ("", "null", "~"):
        return None
    if text == "[]":
        return []
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text


class FolderSource:
    """An ``mlruns`` folder of MLflow's file store (read directly, without MLflow)."""

    def __init__(self, root: Path) -> None:
        self.root = root / "mlruns" if (root / "mlruns").is_dir() else root

    def experiments(self) -> list[Experiment]:
        out = []
        for meta_file in sorted(self.root.glob("*/meta.yaml")):
            meta = read_meta(meta_file)
            if meta.get("lifecycle_stage", "active") != "active" or "experiment_id" not in meta:
                continue
            out.append(Experiment(str(meta["experiment_id"]), str(meta["name"]), _files(meta_file.parent / "tags")))
        return out

    def runs(self, experiment: Experiment) -> Iterator[Run]:
        found = []
        for meta_file in (self.root / experiment.experiment_id).glob("*/meta.yaml"):
            meta = read_meta(meta_file)
            if "run_id" not in meta or meta.get("lifecycle_stage", "active") != "active":
                continue
            folder = meta_file.parent
            tags = _files(folder / "tags")
            found.append(Run(
                run_id=str(meta["run_id"]),
                name=str(meta.get("run_name") or tags.get("mlflow.runName", "")),
                status=RUN_STATUS.get(int(meta.get("status") or 1), "RUNNING"),
                start_time=int(meta.get("start_time") or 0),
                end_time=int(meta.get("end_time") or 0),
                user=str(meta.get("user_id") or ""),
                artifact_uri=str(meta.get("artifact_uri") or ""),
                params=_files(folder / "params"),
                tags=tags,
                metric_keys=sorted(_files(folder / "metrics", read=False)),
                folder=folder,
            ))  # fmt: skip
        yield from sorted(found, key=lambda r: (r.start_time, r.run_id))

    def history(self, run: Run, key: str) -> list[Point]:
        assert run.folder is not None
        out: list[Point] = []
        for line in (run.folder / "metrics" / key).read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                out.append((int(parts[0]), float(parts[1]), int(parts[2]) if len(parts) > 2 else 0))
        return out

    def _artifact_folder(self, run: Run) -> Path | None:
        assert run.folder is not None
        if (run.folder / "artifacts").is_dir():  # where the folder is now, wherever it was made
            return run.folder / "artifacts"
        return _local(run.artifact_uri)

    def artifacts(self, run: Run) -> list[tuple[str, int]]:
        folder = self._artifact_folder(run)
        return walk(folder) if folder else []

    def read_artifact(self, run: Run, path: str) -> bytes:
        folder = self._artifact_folder(run)
        assert folder is not None
        return (folder / path).read_bytes()


def _files(folder: Path, *, read: bool = True) -> dict[str, str]:
    """``key -> text`` of a params/tags/metrics folder (a key with ``/`` is nested folders)."""
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): (p.read_text(encoding="utf-8") if read else "")
        for p in folder.rglob("*")
        if p.is_file()
    }


def source(uri: str, tracklane_key: str = "") -> Source:
    if uri.startswith(("http://", "https://")):
        return ServerSource(uri, tracklane_key)
    path = _path(uri)
    if not path.is_dir():
        raise SystemExit(f"{uri}: neither an MLflow server's URL (http://…) nor an mlruns folder")
    return FolderSource(path)


# -- into Tracklane ----------------------------------------------------------------------------
@dataclass
class Tally:
    runs: int = 0
    new_runs: int = 0
    points: int = 0
    params: int = 0
    tags: int = 0
    files: int = 0
    statuses: int = 0

    def sent(self) -> int:
        return self.new_runs + self.points + self.params + self.tags + self.files + self.statuses


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class Importer:
    """Copies from a source into the gateway's MLflow API (``http``)."""

    def __init__(self, src: Source, http: Client, progress: Any) -> None:
        self.src, self.http, self.progress = src, http, progress
        self.tally = Tally()

    def run(self) -> Tally:
        for experiment in self.src.experiments():
            self.experiment(experiment)
        return self.tally

    def _target_experiment(self, experiment: Experiment) -> str:
        if experiment.experiment_id == "0" and experiment.name == "Default":
            return "0"
        try:
            found = self.http.get("api/2.0/mlflow/experiments/get-by-name", experiment_name=experiment.name)
            return str(found["experiment"]["experiment_id"])
        except HttpError as exc:
            if exc.status != 404:
                raise
        note = experiment.tags.get("mlflow.note.content")
        tags = [{"key": "mlflow.note.content", "value": note}] if note else []
        return str(self.http.post("api/2.0/mlflow/experiments/create", {"name": experiment.name, "tags": tags})
                   ["experiment_id"])  # fmt: skip

    def _imported(self, experiment_id: str) -> dict[str, Run]:
        """The runs of a Tracklane experiment imported before, by their source run id."""
        out, token = {}, None
        while True:
            body: dict[str, Any] = {"experiment_ids": [experiment_id], "run_view_type": "ALL", "max_results": 1000}
            if token:
                body["page_token"] = token
            page = self.http.post("api/2.0/mlflow/runs/search", body)
            for r in page.get("runs", []):
                run = run_of_json(r)
                origin = run.tags.get(SOURCE_TAG, "")
                if origin.startswith("mlflow:"):
                    out[origin.removeprefix("mlflow:")] = run
            token = page.get("next_page_token")
            if not token or not page.get("runs"):
                return out

    def experiment(self, experiment: Experiment) -> None:
        runs = list(self.src.runs(experiment))
        print(f"{experiment.name}: {len(runs)} run(s)", file=sys.stderr)
        target = self._target_experiment(experiment)
        before = self._imported(target)
        for i, run in enumerate(runs, 1):
            self.one(run, target, before.get(run.run_id))
            self.tally.runs += 1
            self.progress("runs", i, len(runs))

    def one(self, run: Run, experiment_id: str, existing: Run | None) -> None:
        if existing is not None and existing.deleted:
            return  # imported before, then deleted in Tracklane: someone's choice, left alone
        if existing is None:
            tags = [{"key": k, "value": v} for k, v in sorted(run.tags.items())][: BATCH_TAGS - 1]
            tags.append({"key": SOURCE_TAG, "value": f"mlflow:{run.run_id}"})
            created = self.http.post("api/2.0/mlflow/runs/create", {
                "experiment_id": experiment_id, "run_name": run.name or run.tags.get("mlflow.runName", ""),
                "start_time": run.start_time or None, "user_id": run.user, "tags": tags,
            })  # fmt: skip
            existing = run_of_json(created["run"])
            self.tally.new_runs += 1
            have_points: dict[str, list[Point]] = {}
        else:
            have_points = {k: history_of(self.http, existing.run_id, k) for k in existing.metric_keys}
        target = existing.run_id
        params = [{"key": k, "value": v} for k, v in sorted(run.params.items()) if k not in existing.params]
        tags = [
            {"key": k, "value": v}
            for k, v in sorted(run.tags.items())
            if (not k.startswith("mlflow.") or k in KEPT_SYSTEM_TAGS) and existing.tags.get(k) != v
        ]
        for start in range(0, len(params), BATCH_PARAMS):
            self.http.post(
                "api/2.0/mlflow/runs/log-batch", {"run_id": target, "params": params[start : start + BATCH_PARAMS]}
            )
        for start in range(0, len(tags), BATCH_TAGS):
            self.http.post(
                "api/2.0/mlflow/runs/log-batch", {"run_id": target, "tags": tags[start : start + BATCH_TAGS]}
            )
        self.tally.params += len(params)
        self.tally.tags += len(tags)
        for key in run.metric_keys:
            self._metric(run, target, key, have_points.get(key, []))
        self._artifacts(run, existing)
        if run.status not in ("RUNNING", "SCHEDULED") and (
            existing.status != run.status or (run.end_time and existing.end_time != run.end_time)
        ):
            update: dict[str, Any] = {"run_id": target, "status": run.status}
            if run.end_time:
                update["end_time"] = run.end_time
            self.http.post("api/2.0/mlflow/runs/update", update)
            self.tally.statuses += 1

    def _metric(self, run: Run, target: str, key: str, have: list[Point]) -> None:
        present = Counter((t, s, "nan" if math.isnan(v) else v) for t, v, s in have)
        missing = []
        for t, v, s in self.src.history(run, key):
            mark = (t, s, "nan" if math.isnan(v) else v)
            if present[mark] > 0:
                present[mark] -= 1
            else:
                missing.append({"key": key, "value": _number(v), "timestamp": t, "step": s})
        for start in range(0, len(missing), BATCH_METRICS):
            self.http.post(
                "api/2.0/mlflow/runs/log-batch", {"run_id": target, "metrics": missing[start : start + BATCH_METRICS]}
            )
        self.tally.points += len(missing)

    def _artifacts(self, run: Run, target: Run) -> None:
        files = self.src.artifacts(run)
        if not files:
            return
        root = _proxy_path(target.artifact_uri)
        have = dict(list_proxied(self.http, root))
        todo = [(path, size) for path, size in files if have.get(path) != size]
        for i, (path, _) in enumerate(todo, 1):
            quoted = urllib.parse.quote(f"{root}/{path}")
            data = self.src.read_artifact(run, path)
            self.http.send("PUT", self.http.url(f"api/2.0/mlflow-artifacts/artifacts/{quoted}"), data,
                           {"Content-Type": "application/octet-stream"})  # fmt: skip
            self.progress("files", i, len(todo))
        self.tally.files += len(todo)
