"""A small JSON-over-HTTP client on the standard library, for the importers: bearer or basic
auth, retries with back-off on what a retry can fix (a refused connection, 429, 5xx), and errors
that name the server's own message."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

RETRIES = 5
TIMEOUT_S = 120


class HttpError(RuntimeError):
    def __init__(self, status: int, url: str, message: str, code: str = "") -> None:
        super().__init__(f"{status} from {url}: {message}")
        self.status, self.code, self.message = status, code, message


class Client:
    """Calls one server; ``token`` goes as a bearer token, ``basic`` as (user, password)."""

    def __init__(self, base: str, token: str = "", basic: tuple[str, str] | None = None) -> None:
        self.base = base.rstrip("/")
        self._auth = ""
        if token:
            self._auth = f"Bearer {token}"
        elif basic:
            self._auth = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()

    def __repr__(self) -> str:  # never print the credentials
        return f"Client({self.base!r})"

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        url = f"{self.base}/{path.lstrip('/')}"
        if query:
            pairs = [
                (k, str(x)) for k, v in query.items() if v is not None for x in (v if isinstance(v, list) else [v])
            ]
            url += "?" + urllib.parse.urlencode(pairs)
        return url

    def call(self, method: str, path: str, body: Any = None, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A JSON request; the JSON answer (``{}`` for an empty one)."""
        data = json.dumps(body).encode() if body is not None else None
        raw = self.send(method, self.url(path, query), data, {"Content-Type": "application/json"} if data else {})
        return json.loads(raw) if raw else {}

    def get(self, path: str, /, **query: Any) -> dict[str, Any]:
        return self.call("GET", path, query=query)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        return self.call("POST", path, body)

    def send(self, method: str, url: str, data: bytes | None = None, headers: Mapping[str, str] | None = None) -> bytes:
        """Raw bytes in and out, retried with back-off when the server is away or overloaded."""
        head = {**(headers or {}), **({"Authorization": self._auth} if self._auth else {})}
        for attempt in range(RETRIES + 1):
            request = urllib.request.Request(url, data=data, method=method, headers=head)  # noqa: S310 (given by the user)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
                    body: bytes = answer.read()
                    return body
            except urllib.error.HTTPError as exc:
                text = exc.read().decode(errors="replace")
                if (exc.code == 429 or exc.code >= 500) and attempt < RETRIES:
                    time.sleep(min(0.5 * 2**attempt, 10))
                    continue
                try:
                    doc = json.loads(text)
                except ValueError:
                    doc = {}
                doc = doc if isinstance(doc, dict) else {}
                message = doc.get("message") or doc.get("detail") or text[:300] or exc.reason
                raise HttpError(exc.code, url.split("?")[0], str(message), str(doc.get("error_code", ""))) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if attempt < RETRIES:
                    time.sleep(min(0.5 * 2**attempt, 10))
                    continue
                reason = getattr(exc, "reason", exc)
                raise HttpError(0, url.split("?")[0], f"cannot reach the server ({reason}); is it running?") from None
        raise AssertionError("unreachable")
