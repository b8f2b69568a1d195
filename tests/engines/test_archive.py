"""The archive's batches on both object stores (the embedded files and S3 on radosgw): written
in any boundaries — overlapping after a redelivery, interleaved by two archivers — they read back
as the log, each position once, in order, from any start."""

from __future__ import annotations

import io
import os
import random
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.artifact import archive
from services.artifact.store import FileObjectStore, ObjectStore, S3ObjectStore
from tests.conftest import S3_ACCESS, S3_SECRET

pytestmark = pytest.mark.engines


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "file":
        yield FileObjectStore(tmp_path / "objects", secrets.token_bytes(32), "http://127.0.0.1:8081")
        return
    url = request.getfixturevalue("s3_url")
    access = os.environ.get("TRACKLANE_TEST_S3_ACCESS_KEY", S3_ACCESS)
    secret = os.environ.get("TRACKLANE_TEST_S3_SECRET_KEY", S3_SECRET)
    yield S3ObjectStore(url, "tl-test-" + secrets.token_hex(4), access, secret)


def _event(position: int) -> bytes:
    return f"event {position} ".encode() * (position % 7 + 1) + bytes([position % 256])


def _put(store: ObjectStore, positions: list[int]) -> None:
    records = [(p, _event(p)) for p in sorted(positions)]
    store.put(archive.object_key(records[0][0], records[-1][0]), io.BytesIO(archive.encode(records)))


def test_batches_in_any_boundaries_read_back_as_the_log(store: ObjectStore) -> None:
    log = list(range(1, 2001))
    rng = random.Random(7)
    _put(store, log[:500])
    _put(store, log[300:900])  # a redelivered stretch written again, in other boundaries
    evens, odds = [p for p in log[900:1500] if p % 2 == 0], [p for p in log[900:1500] if p % 2]
    _put(store, evens)  # two archivers sharing the consumer: interleaved batches
    _put(store, odds)
    rest = log[1500:]
    for start in range(0, len(rest), 97):
        _put(store, rest[start : start + 97])
    _put(store, rng.sample(log, 50))  # and a scattered one

    got = list(archive.read(store))
    assert [p for p, _ in got] == log
    assert all(data == _event(p) for p, data in got)
    assert archive.last_position(store) == 2000
    assert [p for p, _ in archive.read(store, start=1234)] == log[1233:]
    assert [p for p, _ in archive.read(store, start=950, stop=1010)] == list(range(950, 1010))
    assert list(archive.read(store, start=2001)) == []


def test_an_empty_archive_reads_nothing(store: ObjectStore) -> None:
    store.put("someone/else/object", io.BytesIO(b"not the log"))
    assert list(archive.read(store)) == [] and archive.last_position(store) == 0
