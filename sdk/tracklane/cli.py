"""The ``tracklane`` command: ``tracklane config``, ``tracklane sync DIR``, ``tracklane import
mlflow SOURCE`` and ``tracklane import tensorboard LOGDIR``."""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path
from typing import Any

import grpc
from tracklane_proto import events_pb2, ingest_pb2, ingest_pb2_grpc

from tracklane import __version__, _channel, _config
from tracklane._journal import read_all
from tracklane._sender import EVENTS_FILE, OPEN_FILE, SPILL_FILE
from tracklane._uploads import file_reference

MAX_EVENTS_PER_APPEND = 500
MAX_BYTES_PER_APPEND = 4 * 1024 * 1024


def _progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else "\r"
    print(f"  {label:<8} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def experiment_dirs(root: Path) -> list[Path]:
    """``root`` itself when it is an experiment's directory, else the ones inside it."""
    if (root / OPEN_FILE).is_file():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{OPEN_FILE}"))


def sync(directory: Path, stub: ingest_pb2_grpc.IngestServiceStub, metadata: tuple[tuple[str, str], ...]) -> int:
    """Uploads one offline (or undelivered) experiment: registers it, uploads its files, then
    appends its events in order. Safe to run again: every event and file keeps its id."""
    opened = ingest_pb2.OpenExperimentRequest.FromString((directory / OPEN_FILE).read_bytes())
    stub.OpenExperiment(opened, metadata=metadata, timeout=30)
    files = sorted(p for p in (directory / "files").rglob("*") if p.is_file()) if (directory / "files").is_dir() else []
    for i, path in enumerate(files, 1):
        key = path.relative_to(directory / "files").as_posix()
        ref = file_reference(path, key, "application/octet-stream")
        grant = stub.PresignUpload(
            ingest_pb2.UploadRequest(experiment_id=opened.experiment_id, key=key, size=ref.size),
            metadata=metadata,
            timeout=30,
        )
        with open(path, "rb") as body:
            request = urllib.request.Request(  # noqa: S310 (our own server's presigned URL)
                grant.url, data=body, method="PUT", headers={"Content-Length": str(ref.size)}
            )
            urllib.request.urlopen(request, timeout=600).read()  # noqa: S310
        _progress("files", i, len(files))
    batches = [
        ingest_pb2.EventBatch.FromString(data)
        for name in (EVENTS_FILE, SPILL_FILE)
        if (directory / name).is_file()
        for data in read_all(directory / name)
    ]
    events = [e for b in batches for e in b.events]
    sent = 0
    while sent < len(events):
        chunk: list[events_pb2.Event] = []
        size = 0
        while sent + len(chunk) < len(events) and len(chunk) < MAX_EVENTS_PER_APPEND and size < MAX_BYTES_PER_APPEND:
            event = events[sent + len(chunk)]
            chunk.append(event)
            size += event.ByteSize()
        stub.Append(
            ingest_pb2.EventBatch(experiment_id=opened.experiment_id, events=chunk), metadata=metadata, timeout=60
        )
        sent += len(chunk)
        _progress("events", sent, len(events))
    (directory / "synced").write_text(opened.experiment_id + "\n")
    return len(events)


def import_runs(args: argparse.Namespace) -> int:
    """``tracklane import mlflow|tensorboard``: what was imported, or the error and what to do."""
    from tracklane import _import_mlflow, _import_tensorboard
    from tracklane._http import Client, HttpError

    cfg = _config.resolve()
    gateway = Client(_config.gateway(args.gateway), token=cfg.api_key)
    try:
        if args.source == "mlflow":
            tally: Any = _import_mlflow.Importer(_import_mlflow.source(args.uri, cfg.api_key), gateway, _progress).run()
            print(
                f"{tally.runs} run(s): {tally.new_runs} new; sent {tally.points} point(s), {tally.params} param(s), "
                f"{tally.tags} tag(s), {tally.files} file(s), {tally.statuses} status change(s)",
                file=sys.stderr,
            )
        else:
            metadata = (("authorization", f"Bearer {cfg.api_key}"),)
            with _channel.channel(cfg.server, options=[("grpc.max_send_message_length", 32 * 1024 * 1024)]) as ch:
                stub = ingest_pb2_grpc.IngestServiceStub(ch)
                tally = _import_tensorboard.Importer(stub, metadata, gateway, args.project, _progress).run(args.logdir)
            print(
                f"{tally.runs} run(s): {tally.new_runs} new; sent {tally.points} point(s), {tally.plots} "
                f"histogram(s), {tally.images} image(s), {tally.lines} line(s) of text",
                file=sys.stderr,
            )
    except HttpError as exc:
        print(f"import stopped: {exc}; what was sent is kept, run the command again to go on", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        print(f"import stopped: {details}; what was sent is kept, run the command again to go on", file=sys.stderr)
        return 2
    print("nothing new to import" if tally.sent() == 0 else "done", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracklane", description="Tracklane client")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("config", help="show where the SDK will send data")
    sync_cmd = sub.add_parser(
        "sync", help="upload experiments recorded offline (TRACKLANE_OFFLINE=1) or left undelivered"
    )
    sync_cmd.add_argument(
        "directory", type=Path, nargs="?", default=None, help="an experiment's directory, or one holding several"
    )
    imports = sub.add_parser("import", help="bring runs from MLflow or TensorBoard into Tracklane").add_subparsers(
        dest="source"
    )
    from_mlflow = imports.add_parser(
        "mlflow", help="every experiment and run of an MLflow server (http://…) or an mlruns folder"
    )
    from_mlflow.add_argument("uri", help="the MLflow tracking server's URL, or an mlruns folder")
    from_tb = imports.add_parser("tensorboard", help="the event files of a TensorBoard log directory")
    from_tb.add_argument("logdir", type=Path, help="the log directory (every folder with event files is a run)")
    from_tb.add_argument("--project", default="TensorBoard", help="the Tracklane project (default: TensorBoard)")
    for cmd in (from_mlflow, from_tb):
        cmd.add_argument("--gateway", default=None, help="the Tracklane gateway's URL (default: the credentials')")
    args = parser.parse_args(argv)
    if args.command == "import":
        if args.source is None:
            parser.parse_args(["import", "--help"])
        return import_runs(args)
    if args.command == "config":
        cfg = _config.resolve()
        print(f"server: {cfg.server}\ncredentials: {_config.credentials_path()}\ncache: {_config.cache_dir()}")
        return 0
    if args.command == "sync":
        root = args.directory or _config.cache_dir() / "offline"
        dirs = experiment_dirs(root)
        if not dirs:
            print(f"nothing to sync in {root}", file=sys.stderr)
            return 1
        cfg = _config.resolve()
        metadata = (("authorization", f"Bearer {cfg.api_key}"),)
        with _channel.channel(cfg.server, options=[("grpc.max_send_message_length", 32 * 1024 * 1024)]) as ch:
            stub = ingest_pb2_grpc.IngestServiceStub(ch)
            for directory in dirs:
                print(f"{directory.name}:", file=sys.stderr)
                try:
                    n = sync(directory, stub, metadata)
                except grpc.RpcError as exc:
                    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
                    print(f"  failed: {details}; nothing was lost, run the command again", file=sys.stderr)
                    return 2
                print(f"  synced {n} events", file=sys.stderr)
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
