"""Browser sessions: an API key exchanged for an HttpOnly cookie.

The cookie holds a signed, expiring token: ``tls_<payload>.<signature>``, the payload naming the
key by its SHA-256 (never the key itself), an expiry and a nonce; the signature is an
HMAC-SHA256 under a key derived from the gateway's secret. Each request resolves the key's hash
through the metadata service (cached for ``TRACKLANE_KEY_CACHE_TTL``), so rotating or revoking
the key ends its sessions, and a removed member's too.

Writes made with the cookie carry the session's CSRF token in ``X-CSRF-Token`` (the token is an
HMAC of the nonce: a page of another origin can send the cookie but cannot read the token).
Failed sign-ins are rate limited per client address.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass

COOKIE = "tl_session"
CSRF_HEADER = "x-csrf-token"
TOKEN_PREFIX = "tls_"  # noqa: S105 (a prefix, not a secret)
LINK_PREFIX = "tll_"
LINK_TTL_S = 600.0  # a one-time sign-in link is valid this long (JetStream dedups for 20 min)
MAX_TOKEN = 512
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    key_hash: str
    expires_at: float
    nonce: str


class SessionCodec:
    """Signs and checks session tokens and their CSRF tokens, with keys derived from the
    gateway's secret (one purpose each, so an embed token can never pass for a session)."""

    def __init__(self, secret: bytes, ttl_s: float) -> None:
        self._signing = hmac.new(secret, b"tracklane session v1", hashlib.sha256).digest()
        self._links = hmac.new(secret, b"tracklane sign-in link v1", hashlib.sha256).digest()
        self._csrf = hmac.new(secret, b"tracklane csrf v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, key_hash: str, now: float | None = None) -> tuple[str, Session]:
        """A session token for the key whose SHA-256 is ``key_hash``."""
        return self._sign(self._signing, TOKEN_PREFIX, key_hash, self.ttl_s, now)

    def issue_link(self, key_hash: str, now: float | None = None) -> tuple[str, Session]:
        """A one-time sign-in link's token (valid ``LINK_TTL_S``; its nonce is used once)."""
        return self._sign(self._links, LINK_PREFIX, key_hash, LINK_TTL_S, now)

    def verify(self, token: str, now: float | None = None) -> Session | None:
        """The session of a genuine, unexpired token; None otherwise (the caller answers 401)."""
        return self._verify(self._signing, TOKEN_PREFIX, token, now)

    def verify_link(self, token: str, now: float | None = None) -> Session | None:
        return self._verify(self._links, LINK_PREFIX, token, now)

    @staticmethod
    def _sign(key: bytes, prefix: str, key_hash: str, ttl_s: float, now: float | None) -> tuple[str, Session]:
        session = Session(key_hash, float(int((now or time.time()) + ttl_s)), secrets.token_urlsafe(12))
        payload = _b64(json.dumps({"h": key_hash, "x": int(session.expires_at), "n": session.nonce}).encode())
        mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
        return f"{prefix}{payload}.{_b64(mac)}", session

    @staticmethod
    def _verify(key: bytes, prefix: str, token: str, now: float | None) -> Session | None:
        if len(token) > MAX_TOKEN or not token.startswith(prefix) or "." not in token:
            return None
        payload, _, signature = token[len(prefix) :].partition(".")
        expected = hmac.new(key, payload.encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(signature), expected):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(claims, dict) or not {"h", "x", "n"} <= claims.keys():
            return None
        if (now if now is not None else time.time()) >= claims["x"]:
            return None
        return Session(str(claims["h"]), float(claims["x"]), str(claims["n"]))

    def csrf(self, session: Session) -> str:
        return _b64(hmac.new(self._csrf, session.nonce.encode(), hashlib.sha256).digest())

    def csrf_ok(self, session: Session, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf(session).encode())


class SignInLimiter:
    """At most ``limit`` failed sign-ins per client address in any ``window_s`` seconds."""

    def __init__(self, limit: int = 10, window_s: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit, self.window_s, self.max_clients = limit, window_s, max_clients
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str, now: float | None = None) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        now = time.monotonic() if now is None else now
        failures = self._failures.get(client)
        if not failures:
            return 0.0
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return 0.0 if len(failures) < self.limit else failures[0] + self.window_s - now

    def failed(self, client: str, now: float | None = None) -> None:
        if len(self._failures) >= self.max_clients:
            self._failures.clear()
        self._failures.setdefault(client, deque()).append(time.monotonic() if now is None else now)
