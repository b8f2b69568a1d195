"""Embed tokens: signed, read-only, expiring, revocable grants to the experiments of one widget.

A token is ``tle_<payload>.<signature>``: the payload (base64url JSON) names the workspace, the
grant's id and its expiry; the signature is an HMAC-SHA256 of it under the gateway's embed
secret. A forged or expired token is refused without a database read. The grant itself — which
objects or which dynamic query it covers, and whether it was revoked — is a document of the
metadata service (events ``embed_created`` / ``embed_revoked``), read through a short cache, so a
revocation takes effect within ``TRACKLANE_KEY_CACHE_TTL`` everywhere (at once on the gateway
that revoked it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from tracklane_proto import metadata_pb2, metadata_pb2_grpc

from gateway.errors import ApiError

TOKEN_PREFIX = "tle_"  # noqa: S105 (a prefix, not a secret)
EMBED_ROLE = "embed"
MAX_TOKEN = 512


def load_secret(configured: str, data_dir: Path) -> bytes:
    """``TRACKLANE_EMBED_SECRET`` when set (every replica must share it), else a secret kept in
    the data directory, created once with mode 0600."""
    if configured:
        return configured.encode()
    path = data_dir / "embed-secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use theirs
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, workspace: str, embed_id: str, expires_at: float, *, prefix: str = TOKEN_PREFIX) -> str:
    """A token for a grant (``tle_``) or, with another ``prefix``, for a report's share (``tls_``):
    the prefix is signed too, so one kind never passes for the other."""
    payload = _b64(json.dumps({"w": workspace, "e": embed_id, "x": int(expires_at)}, separators=(",", ":")).encode())
    mac = hmac.new(secret, f"{prefix}{payload}".encode(), hashlib.sha256).digest()
    return f"{prefix}{payload}.{_b64(mac)}"


@dataclass(frozen=True)
class TokenClaims:
    workspace: str
    embed_id: str
    expires_at: float


def verify(
    secret: bytes, token: str, now: float | None = None, *, prefix: str = TOKEN_PREFIX, what: str = "embed token"
) -> TokenClaims:
    """The claims of a genuine, unexpired token; 401 otherwise, saying what to do."""
    again = "copy the embed code again" if prefix == TOKEN_PREFIX else "ask for a new link"
    bad = ApiError(401, "unauthenticated", f"not a valid {what}: {again}", "token")
    if len(token) > MAX_TOKEN or not token.startswith(prefix) or "." not in token:
        raise bad
    payload, _, signature = token[len(prefix) :].partition(".")
    expected = hmac.new(secret, f"{prefix}{payload}".encode(), hashlib.sha256).digest()
    try:
        genuine = hmac.compare_digest(_unb64(signature), expected)
        claims = json.loads(_unb64(payload)) if genuine else None
    except (ValueError, binascii.Error):
        raise bad from None
    if not isinstance(claims, dict) or not {"w", "e", "x"} <= claims.keys():
        raise bad
    if (now if now is not None else time.time()) >= claims["x"]:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(claims["x"]))
        raise ApiError(401, "unauthenticated", f"this {what} expired on {when}: {again}", "token")
    return TokenClaims(str(claims["w"]), str(claims["e"]), float(claims["x"]))


@dataclass(frozen=True)
class Grant:
    embed_id: str
    workspace: str
    scope: dict[str, Any]
    revoked: bool


class GrantCache:
    """Embed grants by id through the metadata service, cached for ``ttl_s``."""

    def __init__(self, stub: metadata_pb2_grpc.MetadataServiceStub, ttl_s: float = 10.0) -> None:
        self.stub = stub
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, Grant | None]] = {}

    def forget(self) -> None:
        self._cache.clear()

    async def get(self, workspace: str, embed_id: str) -> Grant | None:
        now = time.monotonic()
        hit = self._cache.get((workspace, embed_id))
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            resp = await self.stub.ListEmbeds(
                metadata_pb2.ListEmbedsRequest(workspace=workspace, embed_id=embed_id), timeout=5
            )
            e = resp.embeds[0]
            grant: Grant | None = Grant(e.embed_id, workspace, json.loads(e.scope_json), e.revoked)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            grant = None
        if len(self._cache) >= 10_000:
            self._cache.clear()
        self._cache[(workspace, embed_id)] = (now + self.ttl_s, grant)
        return grant
