"""``/api/v1/keys`` and ``/api/v1/workspaces``: API keys, workspaces, members. HTTP only: each
handler calls a use case (``gateway.usecases.access_admin``)."""

from __future__ import annotations

from typing import Any

from gateway import schemas as s
from gateway.api import Call, Reply, Routes
from gateway.usecases import access_admin as access
from gateway.usecases.command_log import command_id

routes = Routes("access")
WS = "/api/v1/workspaces/{workspace}"


def answer(done: access.Done, status: int = 200) -> Any:
    """The result once applied; else 202 with the event id, and the secret a lagging command
    made (it is shown only this once)."""
    if done.applied:
        return done.body if status == 200 else Reply(status, done.body)
    body, event = done.body, done.event_id
    if isinstance(body, s.NewKey):
        accepted: Any = s.AcceptedKey("accepted", event, body.id, body.key, body.name, body.role, body.user)
    elif isinstance(body, s.RotatedKey):
        accepted = s.AcceptedKey("accepted", event, body.id, body.key)
    elif isinstance(body, s.NewWorkspace):
        accepted = s.AcceptedWorkspace("accepted", event, body.id, body.name, body.owner, body.admin_key)
    else:
        accepted = s.Accepted("accepted", event)
    return Reply(202, accepted)


@routes.get("/api/v1/keys", "API keys (never their secrets): an admin sees all, anyone else their own", ok=s.ApiKeys)
async def list_keys(call: Call[s.Empty, None]) -> s.ApiKeys:
    return await access.list_keys(call.st, call.who)


@routes.post(
    "/api/v1/keys",
    "A new key, its secret shown this once",
    body=s.KeyRequest,
    body_required=False,
    ok=s.NewKey,
    status=201,
    also={202: s.AcceptedKey},
)
async def create_key(call: Call[s.Empty, s.KeyRequest]) -> Any:
    return answer(await access.create_key(call.st, call.who, call.body), 201)


@routes.post(
    "/api/v1/keys/{key_id}/rotate",
    "A new secret for the same key; the old one stops working",
    ok=s.RotatedKey,
    also={202: s.AcceptedKey},
)
async def rotate_key(call: Call[s.Empty, None]) -> Any:
    return answer(await access.rotate_key(call.st, call.who, call.path["key_id"]))


@routes.post("/api/v1/keys/{key_id}/revoke", "Revoke a key for good", ok=s.Revoked, also={202: s.Accepted})
async def revoke_key(call: Call[s.Empty, None]) -> Any:
    return answer(await access.revoke_key(call.st, call.who, call.path["key_id"]))


@routes.get("/api/v1/workspaces", "The caller's workspace, role and user", ok=s.Workspaces)
async def list_workspaces(call: Call[s.Empty, None]) -> s.Workspaces:
    return s.Workspaces(workspaces=[await access.workspace_of(call.st, call.who)])


@routes.post(
    "/api/v1/workspaces",
    "A new workspace with its first admin member and key (admin)",
    body=s.WorkspaceRequest,
    ok=s.NewWorkspace,
    status=201,
    also={202: s.AcceptedWorkspace},
)
async def create_workspace(call: Call[s.Empty, s.WorkspaceRequest]) -> Any:
    return answer(await access.create_workspace(call.st, call.who, call.body), 201)


@routes.patch(
    WS,
    "Name, and the origins that may frame its widgets (admin)",
    body=s.WorkspaceEdit,
    ok=s.Workspace,
    also={202: s.Accepted},
)
async def edit_workspace(call: Call[s.Empty, s.WorkspaceEdit]) -> Any:
    done = await access.edit_workspace(
        call.st, call.who, call.path["workspace"], call.body, command_id(call.idempotency_key)
    )
    return answer(done)


@routes.get(f"{WS}/members", "Members and their roles", ok=s.Members)
async def list_members(call: Call[s.Empty, None]) -> s.Members:
    return await access.list_members(call.st, call.who, call.path["workspace"])


@routes.put(
    f"{WS}/members/{{user}}",
    "Add a member (201) or change their role (admin)",
    body=s.MemberRole,
    ok=s.Member,
    also={201: s.Member, 202: s.Accepted},
)
async def set_member(call: Call[s.Empty, s.MemberRole]) -> Any:
    done, new = await access.set_member(
        call.st, call.who, call.path["workspace"], call.path["user"], call.body.role, command_id(call.idempotency_key)
    )
    return answer(done, 201 if new else 200)


@routes.delete(
    f"{WS}/members/{{user}}",
    "The member leaves; every key they own stops working (admin)",
    ok=s.RemovedMember,
    also={202: s.Accepted},
)
async def remove_member(call: Call[s.Empty, None]) -> Any:
    done = await access.remove_member(
        call.st, call.who, call.path["workspace"], call.path["user"], command_id(call.idempotency_key)
    )
    return answer(done)
