"""``/api/v1/keys`` and ``/api/v1/workspaces``: API keys (created, listed, rotated, revoked) and
workspaces. Every change is an event on the log (kind ``access``); secrets are shown once, at
creation or rotation, and travel and rest only as SHA-256 hashes."""

from __future__ import annotations

import re
import secrets

import grpc
from starlette.requests import Request
from starlette.routing import Route
from tracklane_proto import events_pb2, metadata_pb2

from gateway.commands import publish, require_admin, wait_applied
from gateway.errors import ApiError
from gateway.http import accepted, idempotency_key, json_object, only_fields, string_field
from gateway.respond import JSONResponse
from gateway.state import principal, state
from services.common.auth import Principal, hash_api_key
from services.common.contract import (
    KEY_ID,
    MAX_KEY_NAME,
    ROLES,
    USER_NAME,
    WORKSPACE_ID,
    WORKSPACE_LEVEL,
    ValidationError,
    check_name,
    role_at_most,
)


def new_secret() -> str:
    return "tl_" + secrets.token_urlsafe(32)


def _name(body: dict[str, object], field: str, default: str) -> str:
    value = string_field(body, field)
    value = default if value is None else value
    try:
        check_name(field, value, max_len=MAX_KEY_NAME)
    except ValidationError as exc:
        raise ApiError(400, "invalid_argument", str(exc), exc.field) from None
    return value


async def _applied(request: Request, stream_seq: int) -> bool:
    """True once the change is in the read model; False when it lags (the caller answers 202)."""
    applied = await wait_applied(state(request).js, stream_seq)
    state(request).keys.forget()  # this gateway sees key changes at once; others within the cache TTL
    return applied


async def _key_ids(request: Request, workspace: str) -> dict[str, metadata_pb2.ApiKey]:
    resp = await state(request).metadata.ListKeys(metadata_pb2.ListKeysRequest(workspace=workspace), timeout=10)
    return {k.key_id: k for k in resp.keys}


def _key_json(k: metadata_pb2.ApiKey) -> dict[str, object]:
    return {
        "id": k.key_id,
        "name": k.name,
        "user": k.user or None,
        "role": k.role,
        "created_at": k.created_at,
        "rotated_at": k.rotated_at or None,
        "revoked": k.revoked,
    }


def _mine(who: Principal, key: metadata_pb2.ApiKey) -> bool:
    """Admins manage every key of the workspace; anyone else only the keys they own, and none
    stronger than the calling key (a member-role key of an admin must not rotate their admin key)."""
    return who.role == "admin" or (bool(who.user) and key.user == who.user and role_at_most(key.role, who.role))


async def list_keys(request: Request) -> JSONResponse:
    """An admin sees every key of the workspace; a member or viewer sees their own."""
    who = await principal(request)
    keys = await _key_ids(request, who.workspace)
    return JSONResponse({"keys": [_key_json(k) for k in keys.values() if _mine(who, k)]})


async def _members(request: Request, workspace: str) -> dict[str, metadata_pb2.Member]:
    resp = await state(request).metadata.ListMembers(metadata_pb2.ListMembersRequest(workspace=workspace), timeout=10)
    return {m.user: m for m in resp.members}


async def create_key(request: Request) -> JSONResponse:
    """POST ``{"name": …, "role": "admin" | "member" | "viewer", "user": …}`` -> the key, shown
    this once. ``user`` (a member) owns the key, which never acts above that member's role; it
    defaults to the caller. Admins create keys for anyone; others only for themselves."""
    who = await principal(request)
    body = await json_object(request)
    only_fields(body, ("name", "role", "user"))
    user = string_field(body, "user")
    user = who.user if user is None else user
    if who.role != "admin" and (not who.user or user != who.user):
        raise ApiError(403, "forbidden", "only an admin key can create keys for others", "user")
    role = string_field(body, "role") or ("member" if who.role == "admin" else who.role)
    if role not in ROLES:
        raise ApiError(400, "invalid_argument", f"role must be one of {', '.join(ROLES)}", "role")
    if not role_at_most(role, who.role):
        raise ApiError(403, "forbidden", f"a {who.role} key cannot create a {role} key", "role")
    if user:
        member = (await _members(request, who.workspace)).get(user)
        if member is None:
            hint = f"PUT /api/v1/workspaces/{who.workspace}/members/{user}"
            raise ApiError(400, "invalid_argument", f"user: {user} is not a member; add them first with {hint}", "user")
        if not role_at_most(role, member.role):
            message = f"role: {user} is a {member.role}, so at most {member.role}"
            raise ApiError(400, "invalid_argument", message, "role")
    name = _name(body, "name", "key")
    key_id, secret = secrets.token_hex(8), new_secret()
    created = events_pb2.KeyCreated(
        key_id=key_id, key_hash=hash_api_key(secret), role=role, name=name, created_by=who.key_id, user=user
    )
    done = await publish(
        state(request).js, who.workspace, WORKSPACE_LEVEL, f"key.{key_id}.created", key_created=created
    )
    body = {"id": key_id, "key": secret, "name": name, "role": role, "user": user or None}
    if not await _applied(request, done.stream_seq):
        return accepted(done.event_id, **body)
    return JSONResponse(body, status_code=201)


async def _existing_key(request: Request) -> tuple[str, str]:
    """(workspace, key id) of a key the caller may manage; 404 for any other."""
    who = await principal(request)
    key_id = request.path_params["key_id"]
    key = (await _key_ids(request, who.workspace)).get(key_id) if KEY_ID.match(key_id) else None
    if key is None or not _mine(who, key):
        raise ApiError(404, "not_found", f"key {key_id} not found", "key_id")
    return who.workspace, key_id


async def rotate_key(request: Request) -> JSONResponse:
    """A new secret for the same key id and role; the old secret stops working."""
    workspace, key_id = await _existing_key(request)
    secret = new_secret()
    rotated = events_pb2.KeyRotated(key_id=key_id, key_hash=hash_api_key(secret))
    event_id = f"key.{key_id}.rotated.{secrets.token_hex(8)}"
    done = await publish(state(request).js, workspace, WORKSPACE_LEVEL, event_id, key_rotated=rotated)
    if not await _applied(request, done.stream_seq):
        return accepted(done.event_id, id=key_id, key=secret)
    return JSONResponse({"id": key_id, "key": secret})


async def revoke_key(request: Request) -> JSONResponse:
    workspace, key_id = await _existing_key(request)
    revoked = events_pb2.KeyRevoked(key_id=key_id)
    done = await publish(state(request).js, workspace, WORKSPACE_LEVEL, f"key.{key_id}.revoked", key_revoked=revoked)
    if not await _applied(request, done.stream_seq):
        return accepted(done.event_id)
    return JSONResponse({"id": key_id, "revoked": True})


async def list_workspaces(request: Request) -> JSONResponse:
    """The caller's workspace (a key belongs to exactly one)."""
    who = await principal(request)
    ws = await state(request).metadata.GetWorkspace(metadata_pb2.GetWorkspaceRequest(workspace=who.workspace))
    return JSONResponse({"workspaces": [_workspace_json(ws, who)]})


async def create_workspace(request: Request) -> JSONResponse:
    """POST ``{"id": "team-a", "name": "Team A", "owner": "alice"}`` (an admin key) -> the new
    workspace, its first admin member (``owner``, by default the caller's user, else ``admin``)
    and that member's first key, shown this once. Ids are 3-40 of [a-z0-9-]."""
    who = await principal(request)
    require_admin(who)
    body = await json_object(request)
    only_fields(body, ("id", "name", "owner"))
    workspace = string_field(body, "id") or ""
    if not WORKSPACE_ID.match(workspace) or workspace == WORKSPACE_LEVEL:
        raise ApiError(400, "invalid_argument", "id must be 3-40 of [a-z0-9-], starting and ending alphanumeric", "id")
    name = _name(body, "name", workspace)
    owner = _user(string_field(body, "owner") or who.user or "admin", "owner")
    exists = True
    try:
        await state(request).metadata.GetWorkspace(metadata_pb2.GetWorkspaceRequest(workspace=workspace), timeout=10)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND is the good answer here
            raise
        exists = False
    key_id, secret = secrets.token_hex(8), new_secret()
    admin = events_pb2.KeyCreated(
        key_id=key_id, key_hash=hash_api_key(secret), role="admin", name="admin", created_by=who.key_id, user=owner
    )
    done = None
    if not exists:
        # The event id is the workspace's: JetStream drops a concurrent second creation.
        done = await publish(
            state(request).js, workspace, WORKSPACE_LEVEL, f"workspace.{workspace}.created",
            workspace_created=events_pb2.WorkspaceCreated(name=name, admin_key=admin, owner=owner),
        )  # fmt: skip
    if done is None or done.duplicate:
        raise ApiError(409, "conflict", f"workspace {workspace} exists already", "id")
    body = {"id": workspace, "name": name, "owner": owner, "admin_key": {"id": key_id, "key": secret}}
    if not await _applied(request, done.stream_seq):
        return accepted(done.event_id, **body)
    return JSONResponse(body, status_code=201)


# Framing origins: "*", or a scheme://host[:port] (a leading "*." for any subdomain).
_ORIGIN = re.compile(r"^(\*|https?://(\*\.)?[A-Za-z0-9.-]{1,253}(:\d{1,5})?)$")
MAX_ORIGINS = 50


async def edit_workspace(request: Request) -> JSONResponse:
    """PATCH ``{"name": …, "embed_origins": ["https://grafana.example.com", …] | null}`` (admin):
    which sites may frame the workspace's widgets (``null``: the gateway's default,
    ``TRACKLANE_EMBED_ORIGINS``; ``[]``: none)."""
    who = await _own_workspace(request, admin=True)
    body = await json_object(request)
    only_fields(body, ("name", "embed_origins"))
    edit = events_pb2.WorkspaceEdited(by_key=who.key_id)
    if "name" in body:
        edit.name = _name(body, "name", "")
    if "embed_origins" in body:
        origins = body["embed_origins"]
        if origins is None:
            edit.reset_embed_origins = True
        elif (
            not isinstance(origins, list)
            or len(origins) > MAX_ORIGINS
            or not all(isinstance(o, str) and _ORIGIN.match(o) for o in origins)
        ):
            message = (
                f"embed_origins: at most {MAX_ORIGINS} of '*' or scheme://host[:port], e.g. https://grafana.example.com"
            )
            raise ApiError(400, "invalid_argument", message, "embed_origins")
        else:
            edit.embed_origins.origins.extend(origins)
    if not body:
        raise ApiError(400, "invalid_argument", "nothing to change: send name and/or embed_origins", "body")
    done = await publish(
        state(request).js,
        who.workspace,
        WORKSPACE_LEVEL,
        f"workspace.{idempotency_key(request)}",
        workspace_edited=edit,
    )
    if not await _applied(request, done.stream_seq):
        return accepted(done.event_id)
    ws = await state(request).metadata.GetWorkspace(metadata_pb2.GetWorkspaceRequest(workspace=who.workspace))
    return JSONResponse(_workspace_json(ws, who))


def _workspace_json(ws: metadata_pb2.Workspace, who: Principal) -> dict[str, object]:
    return {
        "id": ws.id, "name": ws.name, "role": who.role, "user": who.user or None,
        "embed_origins": list(ws.embed_origins) if ws.embed_origins_set else None,
    }  # fmt: skip


# -- members ------------------------------------------------------------------------------------
def _user(value: str, field: str = "user") -> str:
    if not USER_NAME.match(value):
        raise ApiError(400, "invalid_argument", f"{field}: 1-128 of [A-Za-z0-9._@+-], starting alphanumeric", field)
    return value


def _member_json(m: metadata_pb2.Member) -> dict[str, object]:
    return {"user": m.user, "role": m.role, "added_at": m.added_at, "updated_at": m.updated_at}


async def _own_workspace(request: Request, *, admin: bool) -> Principal:
    """The caller, when the path's workspace is theirs (another workspace answers 404)."""
    who = await principal(request)
    if request.path_params["workspace"] != who.workspace:
        raise ApiError(404, "not_found", f"workspace {request.path_params['workspace']} not found", "workspace")
    if admin:
        require_admin(who)
    return who


async def list_members(request: Request) -> JSONResponse:
    who = await _own_workspace(request, admin=False)
    members = await _members(request, who.workspace)
    return JSONResponse({"members": [_member_json(m) for m in members.values()]})


async def _keeps_an_admin(request: Request, workspace: str, user: str) -> None:
    """409 when ``user`` is the workspace's last admin (member or unrevoked service key)."""
    members = await _members(request, workspace)
    if any(m.role == "admin" and m.user != user for m in members.values()):
        return
    keys = await _key_ids(request, workspace)
    if any(k.role == "admin" and not k.user and not k.revoked for k in keys.values()):
        return
    raise ApiError(409, "conflict", f"{user} is the last admin of {workspace}: make someone else admin first", "user")


async def set_member(request: Request) -> JSONResponse:
    """PUT ``{"role": "admin" | "member" | "viewer"}``: adds the user, or changes their role (and
    so what every key they own may do)."""
    who = await _own_workspace(request, admin=True)
    user = _user(request.path_params["user"])
    body = await json_object(request)
    only_fields(body, ("role",))
    role = string_field(body, "role") or ""
    if role not in ROLES:
        raise ApiError(400, "invalid_argument", f"role must be one of {', '.join(ROLES)}", "role")
    current = (await _members(request, who.workspace)).get(user)
    if current is not None and current.role == "admin" and role != "admin":
        await _keeps_an_admin(request, who.workspace, user)
    event = events_pb2.MemberSet(user=user, role=role, by_key=who.key_id)
    event_id = f"member.{idempotency_key(request)}"
    done = await publish(state(request).js, who.workspace, WORKSPACE_LEVEL, event_id, member_set=event)
    if not await _applied(request, done.stream_seq):
        return accepted(done.event_id)
    member = (await _members(request, who.workspace))[user]
    return JSONResponse(_member_json(member), status_code=200 if current is not None else 201)


async def remove_member(request: Request) -> JSONResponse:
    """The user leaves the workspace; every key they own stops working."""
    who = await _own_workspace(request, admin=True)
    user = _user(request.path_params["user"])
    current = (await _members(request, who.workspace)).get(user)
    if current is None:
        raise ApiError(404, "not_found", f"{user} is not a member of {who.workspace}", "user")
    if current.role == "admin":
        await _keeps_an_admin(request, who.workspace, user)
    event = events_pb2.MemberRemoved(user=user, by_key=who.key_id)
    event_id = f"member.{idempotency_key(request)}"
    done = await publish(state(request).js, who.workspace, WORKSPACE_LEVEL, event_id, member_removed=event)
    if not await _applied(request, done.stream_seq):
        return accepted(done.event_id)
    return JSONResponse({"user": user, "removed": True})


routes = [
    Route("/api/v1/keys", list_keys, methods=["GET"]),
    Route("/api/v1/keys", create_key, methods=["POST"]),
    Route("/api/v1/keys/{key_id}/rotate", rotate_key, methods=["POST"]),
    Route("/api/v1/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/api/v1/workspaces", list_workspaces, methods=["GET"]),
    Route("/api/v1/workspaces", create_workspace, methods=["POST"]),
    Route("/api/v1/workspaces/{workspace}", edit_workspace, methods=["PATCH"]),
    Route("/api/v1/workspaces/{workspace}/members", list_members, methods=["GET"]),
    Route("/api/v1/workspaces/{workspace}/members/{user}", set_member, methods=["PUT"]),
    Route("/api/v1/workspaces/{workspace}/members/{user}", remove_member, methods=["DELETE"]),
]
