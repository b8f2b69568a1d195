"""``/api/v1/session``: sign in with an API key (a session cookie for the browser), who am I,
sign out. See ``gateway.sessions`` for the cookie and the CSRF token."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from gateway import schemas as s
from gateway.api import Call, Routes
from gateway.errors import ApiError
from gateway.respond import JSONResponse
from gateway.sessions import COOKIE, Session
from gateway.state import GatewayState
from services.common.auth import Principal, UnauthenticatedError, hash_api_key

routes = Routes("session")
PATH = "/api/v1/session"


def _info(st: GatewayState, who: Principal, session: Session | None) -> s.SessionInfo:
    return s.SessionInfo(
        workspace=who.workspace,
        role=who.role,
        user=who.user or None,
        key_id=who.key_id,
        csrf_token=st.sessions.csrf(session) if session else None,
        expires_at=session.expires_at if session else None,
    )


@routes.post(PATH, "Sign in: an API key for a session cookie (HttpOnly, SameSite=Lax, expiring)",
             body=s.SignIn, ok=s.SessionInfo, auth="none", also={429: s.Error})  # fmt: skip
async def sign_in(call: Call[s.Empty, s.SignIn]) -> Response:
    """Failed attempts are limited per client address (429 with Retry-After); rotating or
    revoking the key, or removing its member, ends the session."""
    st, client = call.st, call.request.client.host if call.request.client else "?"
    if wait := st.sign_ins.retry_after(client):
        raise ApiError(429, "rate_limited", f"too many failed sign-ins: try again in {wait:.0f} s", "key",
                       headers={"Retry-After": str(int(wait) + 1)})  # fmt: skip
    try:
        who = await st.keys.resolve(call.body.key)
    except UnauthenticatedError as exc:
        st.sign_ins.failed(client)
        raise ApiError(401, "unauthenticated", str(exc), "key") from None
    token, session = st.sessions.issue(hash_api_key(call.body.key))
    response = JSONResponse(msgspec.to_builtins(_info(st, who, session)))
    response.set_cookie(
        COOKIE, token, max_age=int(st.settings.session_ttl), path="/", httponly=True, samesite="lax",
        secure=st.settings.secure_cookies,
    )  # fmt: skip
    return response


@routes.get(PATH, "Who the caller is (key or session), with the session's CSRF token", ok=s.SessionInfo)
async def who_am_i(call: Call[s.Empty, None]) -> s.SessionInfo:
    token = call.request.cookies.get(COOKIE)
    by_cookie = token is not None and "authorization" not in call.request.headers
    return _info(call.st, call.who, call.st.sessions.verify(token) if by_cookie and token else None)


@routes.delete(PATH, "Sign out: the session cookie is cleared", ok=s.SignedOut, auth="none")
async def sign_out(call: Call[s.Empty, None]) -> Response:
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=call.st.settings.secure_cookies)
    return response
