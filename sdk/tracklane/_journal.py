"""An append-only file of length-prefixed records, read back in order.

The sender spills batches here when the server is slow or away (and reads them back, in order,
once it can send again); offline mode writes every batch here for ``tracklane sync``. A record
is ``<u32 little-endian length><bytes>``; a torn last record (the process died mid-write) is
ignored by readers.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

_LEN = struct.Struct("<I")


class Journal:
    """Append at the end, read from a moving offset; not thread-safe (the caller locks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(path, "ab")  # noqa: SIM115 (closed in close())
        self._in = open(path, "rb")  # noqa: SIM115
        self.records = 0  # written and not read yet
        self.bytes = 0

    def append(self, data: bytes) -> None:
        self._out.write(_LEN.pack(len(data)))
        self._out.write(data)
        self.records += 1
        self.bytes += len(data) + _LEN.size

    def read(self) -> bytes | None:
        """The oldest unread record, or None when every record was read."""
        if self.records == 0:
            return None
        self._out.flush()
        head = self._in.read(_LEN.size)
        if len(head) < _LEN.size:
            return None
        (n,) = _LEN.unpack(head)
        data = self._in.read(n)
        self.records -= 1
        self.bytes -= n + _LEN.size
        if self.records == 0:  # drained: start the file over so it never grows without bound
            self._out.truncate(0)
            self._out.seek(0)
            self._in.seek(0)
        return data

    def flush(self, fsync: bool = False) -> None:
        self._out.flush()
        if fsync:
            os.fsync(self._out.fileno())

    def close(self, remove: bool = False) -> None:
        self._out.close()
        self._in.close()
        if remove:
            self.path.unlink(missing_ok=True)


def read_all(path: Path) -> Iterator[bytes]:
    """Every complete record of a journal file, in order."""
    with open(path, "rb") as f:
        while True:
            head = f.read(_LEN.size)
            if len(head) < _LEN.size:
                return
            (n,) = _LEN.unpack(head)
            data = f.read(n)
            if len(data) < n:
                return  # torn write at the end
            yield data
