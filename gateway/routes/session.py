"""``/api/v1/session``: sign in with an API key (a session cookie for the browser), who am I,
sign out. See ``gateway.sessions`` for the cookie and the CSRF token."""

from __future__ import annotations

import msgspec
from starlette.responses import Response
from tracklane_proto import events_pb2

from gateway import schemas as s
from gateway.api import Call, Routes
from gateway.errors import ApiError
from gateway.respond import JSONResponse
from gateway.sessions import COOKIE, Session
from gateway.state import GatewayState
from gateway.usecases.command_log import publish
from services.common.auth import Principal, UnauthenticatedError, bearer, hash_api_key
from services.common.contract import WORKSPACE_LEVEL

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
    body = call.body
    if (body.key is None) == (body.link is None):
        raise ApiError(400, "invalid_argument", "give either key or link", "key")
    field = "key" if body.key is not None else "link"
    try:
        if body.key is not None:
            key_hash = hash_api_key(body.key)
            who = await st.keys.resolve_hash(key_hash)
        else:
            key_hash, who = await _use_link(st, body.link or "")
    except UnauthenticatedError as exc:
        st.sign_ins.failed(client)
        raise ApiError(401, "unauthenticated", str(exc), field) from None
    token, session = st.sessions.issue(key_hash)
    response = JSONResponse(msgspec.to_builtins(_info(st, who, session)))
    response.set_cookie(
        COOKIE, token, max_age=int(st.settings.session_ttl), path="/", httponly=True, samesite="lax",
        secure=st.settings.secure_cookies,
    )  # fmt: skip
    return response


async def _use_link(st: GatewayState, token: str) -> tuple[str, Principal]:
    """The key hash and principal of a genuine, unexpired, unused sign-in link, which is now
    used: its event id is the link's, so JetStream takes it once, whichever replica is asked."""
    link = st.sessions.verify_link(token)
    if link is None:
        raise UnauthenticatedError("this sign-in link is not valid or has expired: ask for a new one")
    who = await st.keys.resolve_hash(link.key_hash)
    used = events_pb2.SignInLinkUsed(nonce=link.nonce)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"signin.{link.nonce}", sign_in_link_used=used)
    if done.duplicate:
        raise UnauthenticatedError("this sign-in link was used already: ask for a new one")
    return link.key_hash, who


@routes.post(f"{PATH}/links", "A one-time sign-in link for a browser, as the calling key (valid 10 minutes)",
             ok=s.SignInLink, status=201)  # fmt: skip
async def create_link(call: Call[s.Empty, None]) -> s.SignInLink:
    """The link carries the key's hash, never the key; ``make up`` prints one."""
    header = bearer(call.request.headers.get("authorization"))
    if header is None:
        raise ApiError(403, "forbidden", "sign-in links are made with an API key, not from a session", "Authorization")
    token, link = call.st.sessions.issue_link(hash_api_key(header))
    base = call.st.settings.public_url or str(call.request.base_url).rstrip("/")
    return s.SignInLink(url=f"{base}/signin#link={token}", expires_at=link.expires_at)


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
