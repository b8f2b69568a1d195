"""The key cache of ingestion and the gateway: answers are reused for their TTL; while the
metadata service is down, a key it accepted recently keeps working and any other key gets the
outage (UNAVAILABLE, retry), never a refusal."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from tracklane_proto import metadata_pb2

from services.common.auth import KeyResolver, Principal, UnauthenticatedError, hash_api_key


class Metadata:
    """A metadata stub whose Authenticate knows one key, or is down."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    async def Authenticate(self, request: metadata_pb2.AuthenticateRequest, **_: object) -> metadata_pb2.Principal:
        self.calls += 1
        if self.down:
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down")
        if request.key_hash != hash_api_key("good"):
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAUTHENTICATED, grpc.aio.Metadata(), grpc.aio.Metadata(), "unknown key"
            )
        return metadata_pb2.Principal(workspace="ws", role="admin", key_id="k1", user="ann")


def resolver(stale_s: float) -> tuple[KeyResolver, Metadata]:
    stub = Metadata()
    return KeyResolver(stub, ttl_s=0.0, stale_s=stale_s), stub  # type: ignore[arg-type]


def test_a_recently_accepted_key_works_while_metadata_is_down() -> None:
    keys, stub = resolver(stale_s=60)
    first = asyncio.run(keys.resolve("good"))
    stub.down = True
    assert asyncio.run(keys.resolve("good")) == first == Principal("ws", "admin", "k1", "ann")
    assert stub.calls == 2  # the TTL had passed: it asked, then fell back on what it knew


def test_an_unseen_or_too_old_key_gets_the_outage_not_a_refusal() -> None:
    keys, stub = resolver(stale_s=0)
    asyncio.run(keys.resolve("good"))
    stub.down = True
    for key in ("good", "never-seen"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            asyncio.run(keys.resolve(key))
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_refused_key_stays_refused() -> None:
    keys, stub = resolver(stale_s=60)
    with pytest.raises(UnauthenticatedError, match="unknown key"):
        asyncio.run(keys.resolve("bad"))
    stub.down = True
    with pytest.raises(grpc.aio.AioRpcError):  # a refusal is never served as a principal
        asyncio.run(keys.resolve("bad"))
