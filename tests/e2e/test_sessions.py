"""Browser sessions: an API key exchanged for an HttpOnly cookie; writes with the cookie carry
the CSRF token; rotating the key ends the session; failed sign-ins are rate limited."""

from __future__ import annotations

import time

import httpx
import pytest

from devstack import Stack
from tests.e2e.helpers import gateway, wait_for

pytestmark = pytest.mark.engines


def _browser(stack: Stack) -> httpx.Client:
    """A client with no key, keeping cookies like a browser."""
    return httpx.Client(base_url=stack.gateway_url, timeout=30)


def _new_key(stack: Stack, name: str) -> dict[str, str]:
    with gateway(stack) as admin:
        r = admin.post("/api/v1/keys", json={"name": name, "role": "member"})
        assert r.status_code == 201, r.text
        created: dict[str, str] = r.json()
        return created


def test_a_key_signs_in_and_the_cookie_reads_and_writes(stack: Stack) -> None:
    key = _new_key(stack, "browser")
    with _browser(stack) as browser:
        r = browser.post("/api/v1/session", json={"key": key["key"]})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("tl_session=tls_") and key["key"] not in cookie
        for attribute in ("HttpOnly", "SameSite=lax", "Path=/", "Max-Age="):
            assert attribute in cookie, cookie
        info = r.json()
        assert info["key_id"] == key["id"] and info["role"] == "member" and info["csrf_token"]
        assert info["expires_at"] > time.time()

        assert browser.get("/api/v1/experiments").status_code == 200  # the cookie alone reads
        assert browser.get("/api/v1/session").json()["csrf_token"] == info["csrf_token"]

        edit = {"description": "edited from a browser"}
        refused = browser.patch("/api/v1/projects/sessions", json=edit)
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "X-CSRF-Token"
        wrong = browser.patch("/api/v1/projects/sessions", json=edit, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        done = browser.patch("/api/v1/projects/sessions", json=edit, headers={"X-CSRF-Token": info["csrf_token"]})
        assert done.status_code in (200, 202), done.text

        with gateway(stack) as admin:  # rotating the key ends its sessions
            assert admin.post(f"/api/v1/keys/{key['id']}/rotate").status_code == 200
        ended = wait_for(
            "the session to end", lambda: (r := browser.get("/api/v1/experiments")).status_code == 401 and r
        )
        assert ended.json()["error"]["field"] == "Cookie" and "sign in again" in ended.json()["error"]["message"]


def test_signing_out_and_sessions_that_are_not(stack: Stack) -> None:
    key = _new_key(stack, "short-lived")
    with _browser(stack) as browser:
        assert browser.post("/api/v1/session", json={"key": key["key"]}).status_code == 200
        out = browser.delete("/api/v1/session")
        assert out.status_code == 200 and out.json() == {"signed_out": True}
        assert 'tl_session=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
        assert browser.get("/api/v1/session").status_code == 401  # signed out: no cookie, no key
    with _browser(stack) as forger:
        forger.cookies.set("tl_session", "tls_eyJoIjoiMCIsIngiOjk5OTk5OTk5OTksIm4iOiJ4In0.AAAA")
        r = forger.get("/api/v1/experiments")
        assert r.status_code == 401 and r.json()["error"]["field"] == "Cookie"
    with _browser(stack) as browser:
        r = browser.post("/api/v1/session", json={"key": "tl_not_a_key"})
        assert r.status_code == 401 and r.json()["error"]["field"] == "key" and "set-cookie" not in r.headers
        assert browser.post("/api/v1/session", json={"key": 5}).status_code == 400


def test_failed_sign_ins_are_rate_limited(own_stack: Stack) -> None:
    """On a stack of its own: it leaves this client address limited for a minute."""
    stack = own_stack
    key = _new_key(stack, "patient")
    with _browser(stack) as browser:
        statuses = [browser.post("/api/v1/session", json={"key": f"tl_guess_{i}"}).status_code for i in range(12)]
        assert 429 in statuses and set(statuses) <= {401, 429}
        limited = browser.post("/api/v1/session", json={"key": key["key"]})  # even the right key, for now
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        with gateway(stack) as admin:  # keys in headers are not sign-ins: never limited
            assert admin.get("/api/v1/session").json()["csrf_token"] is None


def test_a_one_time_link_signs_a_browser_in_once(stack: Stack) -> None:
    key = _new_key(stack, "linked")
    with httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {key['key']}"}) as holder:
        made = holder.post("/api/v1/session/links")
        assert made.status_code == 201, made.text
    url = made.json()["url"]
    assert "#link=tll_" in url and key["key"] not in url and made.json()["expires_at"] <= time.time() + 601
    link = url.split("#link=", 1)[1]
    with _browser(stack) as browser:
        r = browser.post("/api/v1/session", json={"link": link})
        assert r.status_code == 200 and r.json()["key_id"] == key["id"], r.text
        assert browser.get("/api/v1/experiments").status_code == 200
        again = browser.post("/api/v1/session/links")  # a session cannot mint links (the key can)
        assert again.status_code == 403
    with _browser(stack) as other:
        reused = other.post("/api/v1/session", json={"link": link})
        assert reused.status_code == 401 and "used already" in reused.json()["error"]["message"]
        forged = other.post("/api/v1/session", json={"link": link[:-4] + "AAAA"})
        assert forged.status_code == 401 and forged.json()["error"]["field"] == "link"
        both = other.post("/api/v1/session", json={"link": link, "key": key["key"]})
        assert both.status_code == 400
