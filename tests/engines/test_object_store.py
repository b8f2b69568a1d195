"""One contract for object storage, run against both adapters: the embedded file store (with the
artifact service's signed-link endpoint) and the S3 adapter against a real S3 server (radosgw)."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from services.artifact import http
from services.artifact.domain import ObjectNotFoundError
from services.artifact.store import FileObjectStore, ObjectStore, S3ObjectStore
from tests.conftest import S3_ACCESS, S3_SECRET

pytestmark = pytest.mark.engines

Fetch = Callable[..., httpx.Response]


@pytest.fixture(params=["file", "s3"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ObjectStore, Fetch]]:
    if request.param == "file":
        store = FileObjectStore(tmp_path / "objects", secrets.token_bytes(32), "http://127.0.0.1:8081")
        with TestClient(http.create_app(store)) as client:

            def fetch_file(method: str, url: str, **kw: object) -> httpx.Response:
                parts = urllib.parse.urlsplit(url)
                return client.request(method, f"{parts.path}?{parts.query}", **kw)  # type: ignore[arg-type]

            yield store, fetch_file
        return
    url = request.getfixturevalue("s3_url")
    access = os.environ.get("TRACKLANE_TEST_S3_ACCESS_KEY", S3_ACCESS)
    secret = os.environ.get("TRACKLANE_TEST_S3_SECRET_KEY", S3_SECRET)
    s3 = S3ObjectStore(url, "tl-test-" + secrets.token_hex(4), access, secret)

    def fetch_s3(method: str, url: str, **kw: object) -> httpx.Response:
        return httpx.request(method, url, timeout=30, **kw)  # type: ignore[arg-type]

    yield s3, fetch_s3


def test_put_get_stat_round_trip(adapter: tuple[ObjectStore, Fetch]) -> None:
    store, _ = adapter
    data = b"epoch,loss\n1,0.5\n"
    info = store.put("exp1/artifacts/table.csv", io.BytesIO(data), "text/csv", {"rows": "1"})
    assert info.size == len(data) and info.sha256 == hashlib.sha256(data).hexdigest()
    assert store.get("exp1/artifacts/table.csv") == data
    st = store.stat("exp1/artifacts/table.csv")
    assert st is not None
    assert (st.size, st.sha256, st.content_type, st.metadata) == (len(data), info.sha256, "text/csv", {"rows": "1"})


def test_large_objects_keep_their_hash(adapter: tuple[ObjectStore, Fetch]) -> None:
    store, _ = adapter
    data = secrets.token_bytes(9 * 1024 * 1024 + 17)  # past the in-memory spool
    info = store.put("big/blob.bin", io.BytesIO(data))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(store.get("big/blob.bin")).hexdigest() == info.sha256


def test_missing_objects(adapter: tuple[ObjectStore, Fetch]) -> None:
    store, _ = adapter
    assert store.stat("nope/missing.txt") is None
    with pytest.raises(ObjectNotFoundError):
        store.get("nope/missing.txt")
    store.delete(["nope/missing.txt"])  # not an error


def test_list_by_prefix_and_bulk_delete(adapter: tuple[ObjectStore, Fetch]) -> None:
    store, _ = adapter
    for key in ["s/b/2.png", "s/a/1.png", "s/b/1.png", "t/x.png"]:
        store.put(key, io.BytesIO(key.encode()))
    assert [i.key for i in store.list("s/")] == ["s/a/1.png", "s/b/1.png", "s/b/2.png"]
    assert [i.key for i in store.list("s/b/")] == ["s/b/1.png", "s/b/2.png"]
    store.delete(["s/b/1.png", "s/b/2.png"])
    assert [i.key for i in store.list("s/")] == ["s/a/1.png"]
    assert store.get("t/x.png") == b"t/x.png"


def test_presigned_download_and_upload(adapter: tuple[ObjectStore, Fetch]) -> None:
    store, fetch = adapter
    store.put("links/a.txt", io.BytesIO(b"hello"))
    r = fetch("GET", store.presign_get("links/a.txt", 60))
    assert r.status_code == 200 and r.content == b"hello"
    up = fetch(
        "PUT", store.presign_put("links/b.bin", 60), content=b"\x00\x01uploaded",
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert up.status_code == 200, up.text
    assert store.get("links/b.bin") == b"\x00\x01uploaded"


def test_presigned_links_cannot_be_bent_or_outlived(adapter: tuple[ObjectStore, Fetch]) -> None:
    store, fetch = adapter
    store.put("links/secret.txt", io.BytesIO(b"s"))
    store.put("links/other.txt", io.BytesIO(b"o"))
    url = store.presign_get("links/secret.txt", 60)
    assert fetch("GET", url.replace("secret.txt", "other.txt")).status_code == 403
    sig_param = "signature=" if "signature=" in url else "X-Amz-Signature="
    head, _, tail = url.partition(sig_param)
    assert fetch("GET", head + sig_param + "0" * 64 + tail[64:]).status_code == 403
    assert fetch("PUT", url, content=b"x").status_code == 403  # a download link uploads nothing
    short = store.presign_get("links/secret.txt", 1)
    time.sleep(2.5)
    assert fetch("GET", short).status_code == 403


@pytest.mark.parametrize("key", ["", "../escape", "a//b", "./a", "a/../../b", "back\\slash", "nul\x00"])
def test_bad_keys_are_refused(adapter: tuple[ObjectStore, Fetch], key: str) -> None:
    store, _ = adapter
    with pytest.raises(ValueError, match="key"):
        store.put(key, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="key"):
        store.presign_get(key, 60)


def test_keys_and_head_reads(adapter: tuple[ObjectStore, Fetch]) -> None:
    store, _ = adapter
    for key in ("w/e/debug/m/v/00000000000000000002-b.png", "w/e/debug/m/v/00000000000000000001-a.png",
                "w/e/debug/m/v2/00000000000000000001-a.png", "w/e2/artifacts/x"):  # fmt: skip
        store.put(key, io.BytesIO(b"0123456789" * 10))
    assert store.keys("w/e/debug/m/v/") == [
        "w/e/debug/m/v/00000000000000000001-a.png",
        "w/e/debug/m/v/00000000000000000002-b.png",
    ]
    assert store.keys("w/e/") == sorted(store.keys("w/e/debug/"))
    assert store.keys("nothing/here/") == []
    assert store.read_head("w/e2/artifacts/x", 12) == b"012345678901"
    assert store.read_head("w/e2/artifacts/x", 10_000) == b"0123456789" * 10
    store.put("w/e2/artifacts/empty", io.BytesIO(b""))
    assert store.read_head("w/e2/artifacts/empty", 10) == b""
    with pytest.raises(ObjectNotFoundError):
        store.read_head("w/e2/artifacts/missing", 10)


def test_the_embedded_stores_links_are_readable_from_pages_and_never_run_as_one(tmp_path: Path) -> None:
    """What the web UI needs of a signed link (reading a debug sample's audio from its page) and
    what keeps an uploaded HTML file from running as a page of the link's origin."""
    store = FileObjectStore(tmp_path / "objects", secrets.token_bytes(32), "http://127.0.0.1:8081")
    store.put("exp/debug/page.html", io.BytesIO(b"<script>alert(1)</script>"), "text/html")
    with TestClient(http.create_app(store)) as client:
        parts = urllib.parse.urlsplit(store.presign_get("exp/debug/page.html", 60))
        r = client.get(f"{parts.path}?{parts.query}", headers={"Origin": "http://127.0.0.1:8080"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    assert r.headers["content-security-policy"] == "sandbox" and r.headers["x-content-type-options"] == "nosniff"
