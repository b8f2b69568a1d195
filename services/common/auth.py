"""API keys: how they are hashed, and a short-lived cache of who a key belongs to.

Keys are never stored or logged in clear: the metadata service keeps their SHA-256, and callers
(ingestion, gateway) ask it through ``Authenticate``, caching the answer for a few seconds so a
revoked key stops working within that time.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import grpc
from tracklane_proto import metadata_pb2, metadata_pb2_grpc


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# Roles whose keys may change anything (log runs, run commands); viewers only read.
WRITE_ROLES = frozenset({"admin", "member"})


# The role of a caller without a key: reads of public projects only.
PUBLIC_ROLE = "public"


@dataclass(frozen=True)
class Principal:
    workspace: str  # may be empty for an anonymous caller who named no workspace
    role: str
    key_id: str
    user: str = ""  # the member behind the key; empty for service keys and anonymous callers

    @property
    def anonymous(self) -> bool:
        return self.role == PUBLIC_ROLE


class UnauthenticatedError(Exception):
    """The key is missing, unknown or revoked."""


class KeyResolver:
    """Resolves bearer keys through the metadata service, with a TTL cache of answers.

    While the metadata service cannot be reached, a key it accepted within ``stale_s`` keeps
    working (training goes on through a metadata restart); a key never seen, or seen longer ago,
    gets the metadata service's error (UNAVAILABLE: retry), never a refusal."""

    def __init__(
        self,
        stub: metadata_pb2_grpc.MetadataServiceStub,
        ttl_s: float = 10.0,
        max_entries: int = 10_000,
        stale_s: float = 300.0,
    ) -> None:
        self.stub = stub
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal | str]] = {}  # a principal, or why the key is refused

    def forget(self) -> None:
        """Drops every cached answer (after this process changed keys)."""
        self._cache.clear()

    async def resolve(self, key: str | None) -> Principal:
        if not key:
            raise UnauthenticatedError("missing API key: send 'authorization: Bearer <key>'")
        return await self.resolve_hash(hash_api_key(key))

    async def resolve_hash(self, digest: str) -> Principal:
        """The principal of the key whose SHA-256 is ``digest`` (a browser session carries the
        hash, never the key): rotating or revoking the key ends it."""
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            if isinstance(hit[1], str):
                raise UnauthenticatedError(hit[1])
            return hit[1]
        try:
            p = await self.stub.Authenticate(metadata_pb2.AuthenticateRequest(key_hash=digest), timeout=5)
            answer: Principal | str = Principal(p.workspace, p.role, p.key_id, p.user)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
                if hit is not None and isinstance(hit[1], Principal) and hit[0] - self.ttl_s + self.stale_s > now:
                    return hit[1]
                raise
            answer = exc.details() or "unknown or revoked API key"
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl_s, answer)
        if isinstance(answer, str):
            raise UnauthenticatedError(answer)
        return answer


def bearer(value: str | None) -> str | None:
    """The key from an ``authorization: Bearer <key>`` header or metadata value."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
