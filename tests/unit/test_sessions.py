"""Session and sign-in link tokens, CSRF tokens and the sign-in limiter, without a server."""

from __future__ import annotations

from gateway.sessions import LINK_TTL_S, SessionCodec, SignInLimiter

CODEC = SessionCodec(b"s" * 48, ttl_s=3600)


def test_a_session_token_carries_the_key_hash_and_expires() -> None:
    token, session = CODEC.issue("ab" * 32, now=1000.0)
    assert CODEC.verify(token, now=2000.0) == session and session.key_hash == "ab" * 32
    assert CODEC.verify(token, now=1000.0 + 3600) is None  # expired
    assert CODEC.verify(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], now=2000.0) is None
    assert SessionCodec(b"t" * 48, ttl_s=3600).verify(token, now=2000.0) is None  # another secret


def test_links_and_sessions_are_not_interchangeable() -> None:
    link, issued = CODEC.issue_link("cd" * 32, now=1000.0)
    session_token, _ = CODEC.issue("cd" * 32, now=1000.0)
    assert CODEC.verify_link(link, now=1000.0 + LINK_TTL_S - 1) == issued
    assert CODEC.verify_link(link, now=1000.0 + LINK_TTL_S) is None
    assert CODEC.verify(link, now=1001.0) is None and CODEC.verify_link(session_token, now=1001.0) is None
    swapped = "tls_" + link.removeprefix("tll_")  # the same payload under the session prefix
    assert CODEC.verify(swapped, now=1001.0) is None


def test_the_csrf_token_belongs_to_its_session() -> None:
    _, one = CODEC.issue("ab" * 32)
    _, two = CODEC.issue("ab" * 32)
    assert CODEC.csrf_ok(one, CODEC.csrf(one)) and not CODEC.csrf_ok(one, CODEC.csrf(two))
    assert not CODEC.csrf_ok(one, None) and not CODEC.csrf_ok(one, "")


def test_failed_sign_ins_are_limited_per_address_within_the_window() -> None:
    limiter = SignInLimiter(limit=3, window_s=60)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after("a", now=t) == 0
        limiter.failed("a", now=t)
    assert limiter.retry_after("a", now=30.0) == 30.0  # the oldest failure leaves the window at 60
    assert limiter.retry_after("b", now=30.0) == 0  # another address is not affected
    assert limiter.retry_after("a", now=60.5) == 0
