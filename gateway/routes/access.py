"""``/api/v1/keys`` and ``/api/v1/workspaces``: API keys (created, listed, rotated, revoked) and
workspaces. Every change is an event on the log (kind ``access``); secrets are shown once, at
creation or rotation, and travel and rest only as SHA-256 hashes."""

from __future__ import annotations

import re
import secrets

import grpc
from starlette.requests import Request
from starlette.routing import Route
from tracklane.pb import events_pb2, metadata_pb2

from gateway.commands import publish, require_admin, wait_applied
from gateway.errors import ApiError
from gateway.respond import JSONResponse
from gateway.routes.commands import _json_object, _string
from gateway.state import principal, state
from services.common.auth import hash_api_key
from services.common.events import WORKSPACE_LEVEL
from services.ingestion.domain import ValidationError, check_name
from services.metadata.domain import ROLES

WORKSPACE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
_KEY_ID = re.compile(r"^[0-9a-z]{1,32}$")


def new_secret() -> str:
    return "tl_" + secrets.token_urlsafe(32)


def _name(body: dict[str, object], field: str, default: str) -> str:
    value = _string(body, field)
    value = default if value is None else value
    try:
        check_name(field, value, max_len=128)
    except ValidationError as exc:
        raise ApiError(400, "invalid_argument", str(exc), exc.field) from None
    return value


async def _applied(request: Request, stream_seq: int) -> None:
    if not await wait_applied(state(request).js, stream_seq):
        raise ApiError(503, "unavailable", "the change is recorded but not applied yet; retry the read shortly")
    state(request).keys.forget()  # this gateway sees key changes at once; others within the cache TTL


async def _key_ids(request: Request, workspace: str) -> dict[str, metadata_pb2.ApiKey]:
    resp = await state(request).metadata.ListKeys(metadata_pb2.ListKeysRequest(workspace=workspace), timeout=10)
    return {k.key_id: k for k in resp.keys}


def _key_json(k: metadata_pb2.ApiKey) -> dict[str, object]:
    return {
        "id": k.key_id,
        "name": k.name,
        "role": k.role,
        "created_at": k.created_at,
        "rotated_at": k.rotated_at or None,
        "revoked": k.revoked,
    }


async def list_keys(request: Request) -> JSONResponse:
    who = await principal(request)
    require_admin(who)
    keys = await _key_ids(request, who.workspace)
    return JSONResponse({"keys": [_key_json(k) for k in keys.values()]})


async def create_key(request: Request) -> JSONResponse:
    """POST ``{"name": …, "role": "admin" | "member" | "viewer"}`` -> the key, shown this once."""
    who = await principal(request)
    require_admin(who)
    body = await _json_object(request)
    role = _string(body, "role") or "member"
    if role not in ROLES:
        raise ApiError(400, "invalid_argument", f"role must be one of {', '.join(ROLES)}", "role")
    name = _name(body, "name", "key")
    key_id, secret = secrets.token_hex(8), new_secret()
    created = events_pb2.KeyCreated(
        key_id=key_id, key_hash=hash_api_key(secret), role=role, name=name, created_by=who.key_id
    )
    done = await publish(
        state(request).js, who.workspace, WORKSPACE_LEVEL, f"key.{key_id}.created", key_created=created
    )
    await _applied(request, done.stream_seq)
    return JSONResponse({"id": key_id, "key": secret, "name": name, "role": role}, status_code=201)


async def _existing_key(request: Request) -> tuple[str, str]:
    who = await principal(request)
    require_admin(who)
    key_id = request.path_params["key_id"]
    if not _KEY_ID.match(key_id) or key_id not in await _key_ids(request, who.workspace):
        raise ApiError(404, "not_found", f"key {key_id} not found", "key_id")
    return who.workspace, key_id


async def rotate_key(request: Request) -> JSONResponse:
    """A new secret for the same key id and role; the old secret stops working."""
    workspace, key_id = await _existing_key(request)
    secret = new_secret()
    rotated = events_pb2.KeyRotated(key_id=key_id, key_hash=hash_api_key(secret))
    event_id = f"key.{key_id}.rotated.{secrets.token_hex(8)}"
    done = await publish(state(request).js, workspace, WORKSPACE_LEVEL, event_id, key_rotated=rotated)
    await _applied(request, done.stream_seq)
    return JSONResponse({"id": key_id, "key": secret})


async def revoke_key(request: Request) -> JSONResponse:
    workspace, key_id = await _existing_key(request)
    revoked = events_pb2.KeyRevoked(key_id=key_id)
    done = await publish(state(request).js, workspace, WORKSPACE_LEVEL, f"key.{key_id}.revoked", key_revoked=revoked)
    await _applied(request, done.stream_seq)
    return JSONResponse({"id": key_id, "revoked": True})


async def list_workspaces(request: Request) -> JSONResponse:
    """The caller's workspace (a key belongs to exactly one)."""
    who = await principal(request)
    ws = await state(request).metadata.GetWorkspace(metadata_pb2.GetWorkspaceRequest(workspace=who.workspace))
    return JSONResponse({"workspaces": [{"id": ws.id, "name": ws.name, "role": who.role}]})


async def create_workspace(request: Request) -> JSONResponse:
    """POST ``{"id": "team-a", "name": "Team A"}`` (an admin key) -> the new workspace and its
    first admin key, shown this once. Ids are 3-40 of [a-z0-9-]."""
    who = await principal(request)
    require_admin(who)
    body = await _json_object(request)
    workspace = _string(body, "id") or ""
    if not WORKSPACE_ID.match(workspace) or workspace == WORKSPACE_LEVEL:
        raise ApiError(400, "invalid_argument", "id must be 3-40 of [a-z0-9-], starting and ending alphanumeric", "id")
    name = _name(body, "name", workspace)
    exists = True
    try:
        await state(request).metadata.GetWorkspace(metadata_pb2.GetWorkspaceRequest(workspace=workspace), timeout=10)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND is the good answer here
            raise
        exists = False
    key_id, secret = secrets.token_hex(8), new_secret()
    admin = events_pb2.KeyCreated(
        key_id=key_id, key_hash=hash_api_key(secret), role="admin", name="admin", created_by=who.key_id
    )
    done = None
    if not exists:
        # The event id is the workspace's: JetStream drops a concurrent second creation.
        done = await publish(
            state(request).js, workspace, WORKSPACE_LEVEL, f"workspace.{workspace}.created",
            workspace_created=events_pb2.WorkspaceCreated(name=name, admin_key=admin),
        )  # fmt: skip
    if done is None or done.duplicate:
        raise ApiError(409, "conflict", f"workspace {workspace} exists already", "id")
    await _applied(request, done.stream_seq)
    return JSONResponse({"id": workspace, "name": name, "admin_key": {"id": key_id, "key": secret}}, status_code=201)


routes = [
    Route("/api/v1/keys", list_keys, methods=["GET"]),
    Route("/api/v1/keys", create_key, methods=["POST"]),
    Route("/api/v1/keys/{key_id}/rotate", rotate_key, methods=["POST"]),
    Route("/api/v1/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/api/v1/workspaces", list_workspaces, methods=["GET"]),
    Route("/api/v1/workspaces", create_workspace, methods=["POST"]),
]
