"""API keys (created, listed, rotated, revoked), workspaces and their members. Every change is an
event on the log (kind ``access``); secrets are shown once, at creation or rotation, and travel
and rest only as SHA-256 hashes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import grpc
import msgspec
from tracklane_proto import events_pb2, metadata_pb2

from gateway import schemas as s
from gateway import views
from gateway.errors import ApiError
from gateway.state import GatewayState
from gateway.usecases.command_log import publish, require_admin, wait_applied
from services.common.auth import Principal, hash_api_key
from services.common.contract import KEY_ID, USER_NAME, WORKSPACE_LEVEL, role_at_most


@dataclass(frozen=True)
class Done:
    """A command's answer: ``body`` once applied, else accepted (``event_id``), with the secret
    when there is one to show once."""

    body: msgspec.Struct
    applied: bool
    event_id: str


def new_secret() -> str:
    return "tl_" + secrets.token_urlsafe(32)


async def _applied(st: GatewayState, stream_seq: int) -> bool:
    applied = await wait_applied(st.js, stream_seq)
    st.keys.forget()  # this gateway sees key changes at once; others within the cache TTL
    return applied


async def _keys(st: GatewayState, workspace: str) -> dict[str, metadata_pb2.ApiKey]:
    resp = await st.metadata.ListKeys(metadata_pb2.ListKeysRequest(workspace=workspace), timeout=10)
    return {k.key_id: k for k in resp.keys}


async def _members(st: GatewayState, workspace: str) -> dict[str, metadata_pb2.Member]:
    resp = await st.metadata.ListMembers(metadata_pb2.ListMembersRequest(workspace=workspace), timeout=10)
    return {m.user: m for m in resp.members}


def _mine(who: Principal, key: metadata_pb2.ApiKey) -> bool:
    """Admins manage every key of the workspace; anyone else only the keys they own, and none
    stronger than the calling key (a member-role key of an admin must not rotate their admin key)."""
    return who.role == "admin" or (bool(who.user) and key.user == who.user and role_at_most(key.role, who.role))


async def list_keys(st: GatewayState, who: Principal) -> s.ApiKeys:
    """An admin sees every key of the workspace; a member or viewer sees their own."""
    keys = await _keys(st, who.workspace)
    return s.ApiKeys(keys=[views.api_key(k) for k in keys.values() if _mine(who, k)])


async def create_key(st: GatewayState, who: Principal, body: s.KeyRequest) -> Done:
    """A key owned by ``user`` (a member; by default the caller), never acting above that
    member's role. Admins create keys for anyone; others only for themselves."""
    user = who.user if body.user is None else body.user
    if who.role != "admin" and (not who.user or user != who.user):
        raise ApiError(403, "forbidden", "only an admin key can create keys for others", "user")
    role = body.role or ("member" if who.role == "admin" else who.role)
    if not role_at_most(role, who.role):
        raise ApiError(403, "forbidden", f"a {who.role} key cannot create a {role} key", "role")
    if user:
        member = (await _members(st, who.workspace)).get(user)
        if member is None:
            hint = f"PUT /api/v1/workspaces/{who.workspace}/members/{user}"
            # a conflict with the workspace as it is (not a malformed request): 409
            raise ApiError(409, "conflict", f"user: {user} is not a member; add them first with {hint}", "user")
        if not role_at_most(role, member.role):
            raise ApiError(409, "conflict", f"role: {user} is a {member.role}, so at most {member.role}", "role")
    key_id, secret = secrets.token_hex(8), new_secret()
    created = events_pb2.KeyCreated(
        key_id=key_id, key_hash=hash_api_key(secret), role=role, name=body.name, created_by=who.key_id, user=user
    )
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"key.{key_id}.created", key_created=created)
    new = s.NewKey(id=key_id, key=secret, name=body.name, role=role, user=user or None)
    return Done(new, await _applied(st, done.stream_seq), done.event_id)


async def _manageable_key(st: GatewayState, who: Principal, key_id: str) -> str:
    """The id of a key the caller may manage; 404 for any other."""
    key = (await _keys(st, who.workspace)).get(key_id) if KEY_ID.match(key_id) else None
    if key is None or not _mine(who, key):
        raise ApiError(404, "not_found", f"key {key_id} not found", "key_id")
    return key_id


async def rotate_key(st: GatewayState, who: Principal, key_id: str) -> Done:
    """A new secret for the same key id and role; the old one stops working."""
    await _manageable_key(st, who, key_id)
    secret = new_secret()
    rotated = events_pb2.KeyRotated(key_id=key_id, key_hash=hash_api_key(secret))
    event_id = f"key.{key_id}.rotated.{secrets.token_hex(8)}"
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, event_id, key_rotated=rotated)
    return Done(s.RotatedKey(id=key_id, key=secret), await _applied(st, done.stream_seq), done.event_id)


async def revoke_key(st: GatewayState, who: Principal, key_id: str) -> Done:
    await _manageable_key(st, who, key_id)
    revoked = events_pb2.KeyRevoked(key_id=key_id)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"key.{key_id}.revoked", key_revoked=revoked)
    return Done(s.Revoked(id=key_id, revoked=True), await _applied(st, done.stream_seq), done.event_id)


async def workspace_of(st: GatewayState, who: Principal) -> s.Workspace:
    ws = await st.metadata.GetWorkspace(metadata_pb2.GetWorkspaceRequest(workspace=who.workspace), timeout=10)
    return views.workspace(ws, who)


async def create_workspace(st: GatewayState, who: Principal, body: s.WorkspaceRequest) -> Done:
    """A new workspace (an admin key), its first admin member (``owner``: by default the
    caller's user, else ``admin``) and that member's first key, shown this once."""
    require_admin(who)
    if body.id == WORKSPACE_LEVEL:
        raise ApiError(400, "invalid_argument", f"id: {WORKSPACE_LEVEL!r} is reserved", "id")
    name = body.name if body.name is not None else body.id
    owner = body.owner or who.user or "admin"
    if not USER_NAME.match(owner):
        raise ApiError(400, "invalid_argument", "owner: 1-128 of [A-Za-z0-9._@+-], starting alphanumeric", "owner")
    exists = True
    try:
        await st.metadata.GetWorkspace(metadata_pb2.GetWorkspaceRequest(workspace=body.id), timeout=10)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND is the good answer here
            raise
        exists = False
    if exists:
        raise ApiError(409, "conflict", f"workspace {body.id} exists already", "id")
    key_id, secret = secrets.token_hex(8), new_secret()
    admin = events_pb2.KeyCreated(
        key_id=key_id, key_hash=hash_api_key(secret), role="admin", name="admin", created_by=who.key_id, user=owner
    )
    # The event id is the workspace's: JetStream drops a concurrent second creation.
    done = await publish(
        st.js, body.id, WORKSPACE_LEVEL, f"workspace.{body.id}.created",
        workspace_created=events_pb2.WorkspaceCreated(name=name, admin_key=admin, owner=owner),
    )  # fmt: skip
    if done.duplicate:
        raise ApiError(409, "conflict", f"workspace {body.id} exists already", "id")
    new = s.NewWorkspace(id=body.id, name=name, owner=owner, admin_key=s.SecretKey(id=key_id, key=secret))
    return Done(new, await _applied(st, done.stream_seq), done.event_id)


def own_workspace(who: Principal, workspace: str, *, admin: bool) -> None:
    """The path's workspace must be the caller's (another one answers 404)."""
    if workspace != who.workspace:
        raise ApiError(404, "not_found", f"workspace {workspace} not found", "workspace")
    if admin:
        require_admin(who)


async def edit_workspace(st: GatewayState, who: Principal, workspace: str, body: s.WorkspaceEdit, cid: str) -> Done:
    """Name, and which sites may frame the workspace's widgets (``null``: the gateway's default,
    ``TRACKLANE_EMBED_ORIGINS``; ``[]``: none)."""
    own_workspace(who, workspace, admin=True)
    edit = events_pb2.WorkspaceEdited(by_key=who.key_id)
    if isinstance(body.name, str):
        edit.name = body.name
    if body.embed_origins is None:
        edit.reset_embed_origins = True
    elif isinstance(body.embed_origins, list):
        edit.embed_origins.origins.extend(body.embed_origins)
    elif not isinstance(body.name, str):
        raise ApiError(400, "invalid_argument", "nothing to change: send name and/or embed_origins", "body")
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"workspace.{cid}", workspace_edited=edit)
    if not await _applied(st, done.stream_seq):
        return Done(s.Accepted("accepted", done.event_id), False, done.event_id)
    return Done(await workspace_of(st, who), True, done.event_id)


async def list_members(st: GatewayState, who: Principal, workspace: str) -> s.Members:
    own_workspace(who, workspace, admin=False)
    return s.Members(members=[views.member(m) for m in (await _members(st, who.workspace)).values()])


async def _keeps_an_admin(st: GatewayState, workspace: str, user: str) -> None:
    """409 when ``user`` is the workspace's last admin (member or unrevoked service key)."""
    members = await _members(st, workspace)
    if any(m.role == "admin" and m.user != user for m in members.values()):
        return
    keys = await _keys(st, workspace)
    if any(k.role == "admin" and not k.user and not k.revoked for k in keys.values()):
        return
    raise ApiError(409, "conflict", f"{user} is the last admin of {workspace}: make someone else admin first", "user")


def check_user(user: str) -> str:
    if not USER_NAME.match(user):
        raise ApiError(400, "invalid_argument", "user: 1-128 of [A-Za-z0-9._@+-], starting alphanumeric", "user")
    return user


async def set_member(
    st: GatewayState, who: Principal, workspace: str, user: str, role: str, cid: str
) -> tuple[Done, bool]:
    """Adds the user, or changes their role (and so what every key they own may do); and
    whether the user is new to the workspace."""
    own_workspace(who, workspace, admin=True)
    check_user(user)
    current = (await _members(st, who.workspace)).get(user)
    if current is not None and current.role == "admin" and role != "admin":
        await _keeps_an_admin(st, who.workspace, user)
    event = events_pb2.MemberSet(user=user, role=role, by_key=who.key_id)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"member.{cid}", member_set=event)
    if not await _applied(st, done.stream_seq):
        return Done(s.Accepted("accepted", done.event_id), False, done.event_id), current is None
    member = (await _members(st, who.workspace))[user]
    return Done(views.member(member), True, done.event_id), current is None


async def remove_member(st: GatewayState, who: Principal, workspace: str, user: str, cid: str) -> Done:
    """The user leaves the workspace; every key they own stops working."""
    own_workspace(who, workspace, admin=True)
    check_user(user)
    current = (await _members(st, who.workspace)).get(user)
    if current is None:
        raise ApiError(404, "not_found", f"{user} is not a member of {who.workspace}", "user")
    if current.role == "admin":
        await _keeps_an_admin(st, who.workspace, user)
    event = events_pb2.MemberRemoved(user=user, by_key=who.key_id)
    done = await publish(st.js, who.workspace, WORKSPACE_LEVEL, f"member.{cid}", member_removed=event)
    return Done(s.RemovedMember(user=user, removed=True), await _applied(st, done.stream_seq), done.event_id)
