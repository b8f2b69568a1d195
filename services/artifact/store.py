"""Object storage behind one interface, with two adapters chosen by settings:

* :class:`S3ObjectStore` (the ``minio`` SDK) when ``TRACKLANE_S3_URL`` is set: MinIO, AWS S3,
  Ceph radosgw or any S3 server; downloads and uploads go straight to it by presigned URL.
* :class:`FileObjectStore`, the embedded default, over the data directory; its presigned URLs
  are HMAC-signed, expiring links that the artifact service's HTTP endpoint serves.

One contract test suite runs against both (tests/engines/test_object_store.py). The calls block;
the service runs them in threads.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from services.artifact.domain import ObjectInfo, ObjectNotFoundError
from services.common.contract import check_object_key

CHUNK = 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024


class ObjectStore(Protocol):
    def put(
        self,
        key: str,
        data: BinaryIO,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Stores ``data`` (read to its end) and returns its audit record (size, SHA-256)."""

    def get(self, key: str) -> bytes: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def keys(self, prefix: str = "") -> list[str]:
        """The keys that start with ``prefix``, in order (no per-object calls)."""

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""

    def read_head(self, key: str, n: int) -> bytes:
        """The first ``n`` bytes of an object (ObjectNotFoundError when missing)."""

    def delete(self, keys: Iterable[str]) -> None:
        """Deletes the keys that exist; missing ones are not an error."""

    def presign_get(self, key: str, expires_s: int) -> str: ...

    def presign_put(self, key: str, expires_s: int) -> str: ...


def _spool(data: BinaryIO) -> tuple[BinaryIO, int, str]:
    """Copies ``data`` into a spooled file while hashing it: (file at 0, size, sha256 hex)."""
    digest = hashlib.sha256()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (returned)
    size = 0
    while chunk := data.read(CHUNK):
        digest.update(chunk)
        spool.write(chunk)
        size += len(chunk)
    spool.seek(0)
    return spool, size, digest.hexdigest()  # type: ignore[return-value]


def _user_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(metadata or {})
    for k, v in out.items():
        if not k.replace("-", "").isalnum() or not v.isprintable():
            raise ValueError(f"metadata: {k!r} needs an alphanumeric name and a printable value")
    return out


# -- the embedded default -------------------------------------------------------------------------
class FileObjectStore:
    """Objects as files under ``root/objects``, their records under ``root/records``."""

    def __init__(self, root: Path, signing_key: bytes, public_url: str) -> None:
        self.root = root
        self.objects = root / "objects"
        self.records = root / "records"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.records.mkdir(parents=True, exist_ok=True)
        self.signing_key = signing_key
        self.public_url = public_url.rstrip("/")

    def _paths(self, key: str) -> tuple[Path, Path]:
        check_object_key(key)
        return self.objects / key, self.records / f"{key}.json"

    def put(
        self,
        key: str,
        data: BinaryIO,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        obj, rec = self._paths(key)
        meta = _user_metadata(metadata)
        spool, size, sha = _spool(data)
        info = ObjectInfo(key, size, sha, content_type, meta)
        for path in (obj, rec):
            path.parent.mkdir(parents=True, exist_ok=True)
        # Write both beside their targets and rename: a reader never sees half an object.
        tmp_obj = obj.with_name(f".{obj.name}.{os.getpid()}.tmp")
        with spool, open(tmp_obj, "wb") as out:
            shutil.copyfileobj(spool, out, CHUNK)
        tmp_rec = rec.with_name(f".{rec.name}.{os.getpid()}.tmp")
        tmp_rec.write_text(json.dumps(info.__dict__))
        os.replace(tmp_obj, obj)
        os.replace(tmp_rec, rec)
        return info

    def get(self, key: str) -> bytes:
        obj, _ = self._paths(key)
        try:
            return obj.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFoundError(key) from None

    def open(self, key: str) -> BinaryIO:
        obj, _ = self._paths(key)
        try:
            return open(obj, "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFoundError(key) from None

    def stat(self, key: str) -> ObjectInfo | None:
        _, rec = self._paths(key)
        try:
            return ObjectInfo(**json.loads(rec.read_text()))
        except (FileNotFoundError, IsADirectoryError):
            return None

    def keys(self, prefix: str = "") -> list[str]:
        # Walk only the directory the prefix names, not the whole store.
        base = self.records / prefix.rpartition("/")[0] if "/" in prefix else self.records
        if not base.is_dir():
            return []
        found = []
        for rec in base.rglob("*.json"):
            if rec.name.startswith("."):
                continue
            key = rec.relative_to(self.records).as_posix().removesuffix(".json")
            if key.startswith(prefix):
                found.append(key)
        return sorted(found)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in self.keys(prefix):
            info = self.stat(key)
            if info is not None:
                yield info

    def read_head(self, key: str, n: int) -> bytes:
        with self.open(key) as f:
            return f.read(n)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            for path in self._paths(key):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    # Presigned URLs: HMAC-SHA256 over method, key and expiry; served by services.artifact.http.
    def _signature(self, method: str, key: str, expires: int) -> str:
        return hmac.new(self.signing_key, f"{method}\n{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def _presign(self, method: str, key: str, expires_s: int) -> str:
        check_object_key(key)
        expires = int(time.time()) + expires_s
        query = urllib.parse.urlencode({"expires": expires, "signature": self._signature(method, key, expires)})
        return f"{self.public_url}/objects/{urllib.parse.quote(key)}?{query}"

    def presign_get(self, key: str, expires_s: int) -> str:
        return self._presign("GET", key, expires_s)

    def presign_put(self, key: str, expires_s: int) -> str:
        return self._presign("PUT", key, expires_s)

    def verify(self, method: str, key: str, expires: str, signature: str) -> bool:
        """True for an unexpired URL that this store signed for exactly this method and key."""
        try:
            when = int(expires)
        except ValueError:
            return False
        if when < time.time():
            return False
        return hmac.compare_digest(self._signature(method, key, when), signature)


# -- S3 ------------------------------------------------------------------------------------------
class S3ObjectStore:
    """Any S3 server through the minio SDK. The SHA-256 travels as user metadata."""

    def __init__(self, url: str, bucket: str, access_key: str, secret_key: str, region: str | None = None) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"TRACKLANE_S3_URL must be http(s)://host:port, got {url!r}")
        self.client = Minio(
            parsed.netloc, access_key=access_key, secret_key=secret_key, secure=parsed.scheme == "https", region=region
        )
        self.bucket = bucket
        if not self.client.bucket_exists(bucket):
            with contextlib.suppress(S3Error):  # created concurrently
                self.client.make_bucket(bucket)

    def put(
        self,
        key: str,
        data: BinaryIO,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        check_object_key(key)
        meta = _user_metadata(metadata)
        spool, size, sha = _spool(data)
        with spool:
            self.client.put_object(
                self.bucket, key, spool, size, content_type=content_type,
                metadata={"tl-sha256": sha, "tl-meta": json.dumps(meta)},
            )  # fmt: skip
        return ObjectInfo(key, size, sha, content_type, meta)

    def _read(self, key: str, length: int = 0) -> bytes:
        check_object_key(key)
        try:
            response = self.client.get_object(self.bucket, key, offset=0, length=length)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFoundError(key) from None
            if exc.code == "InvalidRange":  # a range of an empty object
                return b""
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def get(self, key: str) -> bytes:
        return self._read(key)

    def stat(self, key: str) -> ObjectInfo | None:
        check_object_key(key)
        try:
            st = self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise
        headers = {k.lower(): v for k, v in (st.metadata or {}).items()}
        return ObjectInfo(
            key=key,
            size=int(st.size or 0),
            sha256=headers.get("x-amz-meta-tl-sha256", ""),
            content_type=st.content_type or "application/octet-stream",
            metadata=json.loads(headers.get("x-amz-meta-tl-meta", "{}")),
        )

    def keys(self, prefix: str = "") -> list[str]:
        names = (o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True))
        return sorted(n for n in names if n is not None)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in self.keys(prefix):
            info = self.stat(key)
            if info is not None:
                yield info

    def read_head(self, key: str, n: int) -> bytes:
        return self._read(key, n)

    def delete(self, keys: Iterable[str]) -> None:
        errors = list(self.client.remove_objects(self.bucket, (DeleteObject(check_object_key(k)) for k in keys)))
        if errors:
            raise RuntimeError(f"S3 delete failed for {len(errors)} objects: {errors[0]}")

    def presign_get(self, key: str, expires_s: int) -> str:
        return self.client.presigned_get_object(
            self.bucket, check_object_key(key), expires=datetime.timedelta(seconds=expires_s)
        )

    def presign_put(self, key: str, expires_s: int) -> str:
        return self.client.presigned_put_object(
            self.bucket, check_object_key(key), expires=datetime.timedelta(seconds=expires_s)
        )


def open_store(
    data_dir: Path,
    s3_url: str | None,
    bucket: str,
    access_key: str,
    secret_key: str,
    signing_key: bytes,
    public_url: str,
) -> ObjectStore:
    if s3_url:
        return S3ObjectStore(s3_url, bucket, access_key, secret_key)
    return FileObjectStore(data_dir / "objects", signing_key, public_url)


__all__ = ["FileObjectStore", "ObjectInfo", "ObjectNotFoundError", "ObjectStore", "S3ObjectStore", "open_store"]
