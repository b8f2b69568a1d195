"""Files of an experiment (artifacts, models, debug samples) go straight to object storage.

The uploader thread asks ingestion for a presigned URL, PUTs the bytes there, and only then
hands the file's reference (key, size, SHA-256) back to the experiment, which sends it as an
event: a reference on the log always points at an object that exists. A slow or absent server
delays uploads (with retries), never the training thread.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from tracklane_proto import events_pb2, ingest_pb2, ingest_pb2_grpc

from tracklane import _channel

log = logging.getLogger("tracklane")
CHUNK = 1024 * 1024


@dataclass
class Upload:
    key: str  # relative to the experiment: artifacts/..., models/..., debug/...
    path: Path
    content_type: str
    then: Callable[[events_pb2.FileReference], None]
    remove_after: bool = False  # a temporary file the SDK made (serialized object, zip)


def file_reference(path: Path, key: str, content_type: str) -> events_pb2.FileReference:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return events_pb2.FileReference(key=key, size=size, sha256=digest.hexdigest(), content_type=content_type)


class Uploader:
    """One thread per experiment; ``close`` waits for what is queued (up to a timeout)."""

    def __init__(self, server: str, api_key: str, experiment_id: str, opened: threading.Event) -> None:
        self.server = server
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self.experiment_id = experiment_id
        self.opened = opened  # uploads wait until the experiment is registered
        self._queue: queue.Queue[Upload | None] = queue.Queue()
        self._stopping = threading.Event()
        self.failed = 0
        self.done = 0
        self._thread = threading.Thread(target=self._run, name=f"tracklane-upload-{experiment_id[:8]}", daemon=True)
        self._thread.start()

    def submit(self, upload: Upload) -> None:
        self._queue.put(upload)

    def close(self, timeout: float) -> bool:
        """True when every queued upload finished (successfully or not) in time."""
        self._queue.put(None)
        self._thread.join(timeout)
        finished = not self._thread.is_alive()
        self._stopping.set()
        return finished

    def _run(self) -> None:
        channel = _channel.channel(self.server)
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        try:
            while (job := self._queue.get()) is not None:
                try:
                    self._upload(stub, job)
                    self.done += 1
                except Exception as exc:
                    self.failed += 1
                    log.error("tracklane: could not upload %s: %s", job.key, exc)
                finally:
                    if job.remove_after:
                        job.path.unlink(missing_ok=True)
        finally:
            channel.close()

    def _upload(self, stub: ingest_pb2_grpc.IngestServiceStub, job: Upload) -> None:
        ref = file_reference(job.path, job.key, job.content_type)
        backoff = 0.2
        while True:
            if self._stopping.is_set():
                raise RuntimeError("the experiment closed before the upload could finish")
            try:
                self.opened.wait(timeout=5)
                grant = stub.PresignUpload(
                    ingest_pb2.UploadRequest(
                        experiment_id=self.experiment_id, key=job.key, size=ref.size, content_type=job.content_type
                    ),
                    metadata=self._metadata,
                    timeout=10,
                )
                _put(grant.url, job.path, ref.size, job.content_type)
                break
            except grpc.RpcError as exc:
                code = exc.code() if isinstance(exc, grpc.Call) else None
                if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED):
                    raise RuntimeError(exc.details() if isinstance(exc, grpc.Call) else str(exc)) from None
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500 and exc.code not in (403, 408, 429):
                    raise RuntimeError(f"object storage answered {exc.code}: {exc.read()[:200]!r}") from None
            except (urllib.error.URLError, OSError) as exc:
                log.debug("tracklane: upload of %s failed (%s); retrying", job.key, exc)
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
        job.then(ref)


def _put(url: str, path: Path, size: int, content_type: str) -> None:
    with open(path, "rb") as body:
        request = urllib.request.Request(  # noqa: S310 (the URL comes from our own server)
            url, data=body, method="PUT", headers={"Content-Type": content_type, "Content-Length": str(size)}
        )
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
            response.read()


def spool_bytes(data: bytes, suffix: str) -> Path:
    """A temporary file with ``data``, for the uploader to send and then delete."""
    with tempfile.NamedTemporaryFile(prefix="tracklane-", suffix=suffix, delete=False) as f:
        f.write(data)
        return Path(f.name)


def zip_folder(folder: Path) -> Path:
    """The folder as a temporary .zip file."""
    base = Path(tempfile.mkdtemp(prefix="tracklane-")) / folder.name
    return Path(shutil.make_archive(str(base), "zip", root_dir=folder))
