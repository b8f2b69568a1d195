"""MongoDB access shared by the services that project into it (metadata, reporting): the client
for any MongoDB-wire server, and the optimistic read-modify-write every projection writes with.

Everything stays inside the subset both a real MongoDB and nx-27017 answer the same way: no
``$push`` of sub-documents, no ``$setOnInsert``, no change streams, no NaN in documents. A
write is guarded by the document's ``version`` field, which both servers honour.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError, DuplicateKeyError

Doc = dict[str, Any]
Mutation = Callable[[Doc | None], Doc]


class ConflictError(RuntimeError):
    """An optimistic write lost too many races in a row."""


def connect(url: str) -> AsyncMongoClient[Doc]:
    """One server (nx-27017, a lone mongod) directly; a replica set (``replicaSet=…`` in the URL)
    through its members, writes going to its primary."""
    return AsyncMongoClient(url, serverSelectionTimeoutMS=10_000, directConnection="replicaSet=" not in url)


async def insert_new(collection: Any, docs: list[Doc]) -> None:
    """Inserts those of ``docs`` whose ids are not there yet (the others are duplicates)."""
    with contextlib.suppress(BulkWriteError):
        await collection.insert_many(docs, ordered=False)


async def mutate(collection: Any, doc_id: str, change: Mutation) -> Doc:
    """Read, change, write back only if nobody wrote in between (else try again). ``change``
    returns the document it was given to leave it alone."""
    for _ in range(50):
        current = await collection.find_one({"_id": doc_id})
        new = change(current)
        if current is None:
            new["version"] = 1
            try:
                await collection.insert_one(new)
            except DuplicateKeyError:
                continue
            return new
        if new is current:  # the change left it alone
            return current
        new["version"] = current.get("version", 0) + 1
        result = await collection.replace_one({"_id": doc_id, "version": current.get("version", 0)}, new)
        if result.matched_count == 1:
            return new
    raise ConflictError(f"{collection.name} {doc_id}: too many concurrent updates")
