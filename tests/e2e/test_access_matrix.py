"""Who gets in: every HTTP route of the gateway (found from the application itself) and every
method of the public gRPC API, against every kind of credential a caller may hold — none, a
malformed key, a revoked key, a viewer's key, a member's key, another workspace's admin key, an
expired, revoked or other-scope embed token, a report's share link, a browser session without
its CSRF token — and the workspace's admin key as the control. Each route has its row in
``RULES``: the least role it needs, whether a signed-out caller may read (public projects), and
what its token is when it takes one. A route added without its row fails the test.

"Let in" means past authentication and authorization (any answer but 401/403 — the request may
still be refused as invalid, 400, or find nothing, 404); "kept out" means 401 or 403, or 404
where not saying that another workspace's object exists is the rule. A caller let in by another
workspace's key must not see this workspace's objects in the answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import grpc
import httpx
import pytest
from starlette.routing import Mount, Route
from tracklane_proto import ingest_pb2, ingest_pb2_grpc

from devstack import Stack
from gateway.app import create_app
from gateway.embeds import sign
from tests.conftest import API_KEY, batch, new_id, scalar_event, start_stack
from tests.e2e.helpers import gateway, open_experiment, wait_for

pytestmark = pytest.mark.engines

# The least a caller needs: "open" (anyone), "viewer", "member", "admin"; "token" routes take the
# token in their path or query (a share link, an embed token) and are checked with their tokens.
VIEWER, MEMBER, ADMIN, OPEN, TOKEN = "viewer", "member", "admin", "open", "token"


@dataclass(frozen=True)
class Rule:
    role: str
    anonymous: bool = False  # a signed-out caller may read public projects through it
    session: bool = True  # a browser session may use it (unsafe methods with the CSRF token)


R, RA, W, A = Rule(VIEWER), Rule(VIEWER, anonymous=True), Rule(MEMBER), Rule(ADMIN)
MR, MW = Rule(VIEWER, session=False), Rule(MEMBER, session=False)  # MLflow's clients hold keys, not sessions
EXP, REPORT = "/api/v1/experiments/{experiment_id:expid}", "/api/v1/reports/{report_id:reportid}"
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(OPEN),
    ("GET", "/readyz"): Rule(OPEN),
    ("GET", "/api/v1/openapi.json"): Rule(OPEN),
    ("GET", "/metrics"): Rule(OPEN),  # Prometheus: counters of the service, no user data
    ("GET", "/{path:page}"): Rule(OPEN),  # the web UI's files: it signs in itself
    ("GET", "/widget/static/{name}"): Rule(OPEN),
    ("POST", "/api/v1/session"): Rule(OPEN),  # signing in: the key or the link is the body
    ("DELETE", "/api/v1/session"): Rule(OPEN),  # signing out
    ("GET", "/api/v1/session"): R,
    ("POST", "/api/v1/session/links"): Rule(VIEWER, session=False),  # the key mints links, a session cannot
    ("GET", "/api/v1/projects"): RA,
    ("PATCH", "/api/v1/projects/{project:path}"): W,  # its description; making it public takes an admin (EXTRA)
    ("GET", "/api/v1/export"): RA,
    ("GET", "/api/v1/views"): R,
    ("POST", "/api/v1/views"): W,
    ("POST", "/api/v1/views/delete"): W,
    ("POST", "/api/v1/views/default"): W,
    ("GET", "/api/v1/experiments"): RA,
    ("GET", "/api/v1/columns"): RA,
    ("GET", "/api/v1/compare"): RA,
    ("POST", "/api/v1/experiments/bulk"): W,
    ("GET", EXP): RA,
    ("PATCH", EXP): W,
    **{
        ("GET", f"{EXP}/{tab}"): RA
        for tab in ("scalars", "configuration", "execution", "artifacts", "models", "console", "plots", "debug-samples")
    },
    ("GET", f"{EXP}/artifacts/{{name}}/preview"): RA,
    ("GET", f"{EXP}/models/{{name}}/preview"): RA,
    ("POST", f"{EXP}/scalars/charts"): RA,  # a read with a body (many charts at once)
    **{
        ("POST", f"{EXP}/{action}"): W
        for action in ("tags", "archive", "restore", "publish", "delete", "move", "clear", "stop")
    },
    ("PATCH", f"{EXP}/hyperparameters"): W,
    ("PATCH", f"{EXP}/properties"): W,
    ("GET", f"{EXP}/notes"): R,
    ("PUT", f"{EXP}/notes"): W,
    ("GET", "/api/v1/keys"): R,
    ("POST", "/api/v1/keys"): A,  # a member's own key may make keys for that member (EXTRA), never above it
    ("POST", "/api/v1/keys/{key_id}/rotate"): A,
    ("POST", "/api/v1/keys/{key_id}/revoke"): A,
    ("GET", "/api/v1/workspaces"): R,
    ("POST", "/api/v1/workspaces"): A,
    ("PATCH", "/api/v1/workspaces/{workspace}"): A,
    ("GET", "/api/v1/workspaces/{workspace}/members"): R,
    ("PUT", "/api/v1/workspaces/{workspace}/members/{user}"): A,
    ("DELETE", "/api/v1/workspaces/{workspace}/members/{user}"): A,
    ("POST", "/api/v1/embeds"): W,
    ("GET", "/api/v1/embeds"): R,
    ("GET", "/api/v1/embeds/code"): W,  # it may grant an embed token
    ("POST", "/api/v1/embeds/{embed_id}/revoke"): W,
    ("GET", "/api/v1/reports"): R,
    ("POST", "/api/v1/reports"): W,
    ("GET", REPORT): R,
    ("PATCH", REPORT): W,
    **{
        ("POST", f"{REPORT}/{action}"): W
        for action in ("publish", "archive", "restore", "delete", "share", "share/revoke", "images")
    },
    ("GET", f"{REPORT}/export"): R,
    ("GET", f"{REPORT}/images/{{name}}"): Rule(TOKEN),  # a key of the workspace, or the report's share link
    ("GET", "/api/v1/shared/{token}"): Rule(TOKEN),
    ("GET", "/widget/"): Rule(TOKEN),  # a key, an embed token of its scope, a share link of its report
    ("GET", "/api/v1/notes"): R,
    ("PUT", "/api/v1/notes"): W,
}
# MLflow's REST API, under both of its prefixes: reads for any key of the workspace, writes for members.
MLFLOW: dict[tuple[str, str], Rule] = {
    **{("GET", name): MR for name in ("experiments/get", "experiments/get-by-name", "experiments/search", "runs/get",
                                      "metrics/get-history", "metrics/get-history-bulk-interval",
                                      "logged-models/{model_id}")},
    **{("POST", name): MR for name in ("experiments/search", "runs/search", "logged-models/search")},
    **{("POST", name): MW for name in ("experiments/create", "experiments/set-experiment-tag", "experiments/update",
                                      "experiments/delete", "experiments/restore", "runs/create", "runs/update",
                                      "runs/delete", "runs/restore", "runs/log-metric", "runs/log-batch",
                                      "runs/log-parameter", "runs/set-tag", "runs/delete-tag", "runs/log-inputs",
                                      "runs/outputs", "logged-models", "logged-models/{model_id}/params")},
    ("PATCH", "logged-models/{model_id}"): MW,
    ("PATCH", "logged-models/{model_id}/tags"): MW,
    ("DELETE", "logged-models/{model_id}/tags/{tag_key}"): MW,
    ("GET", "mlflow-artifacts/artifacts"): MR,
    ("GET", "mlflow-artifacts/artifacts/{path:path}"): MR,
    ("PUT", "mlflow-artifacts/artifacts/{path:path}"): MW,
}  # fmt: skip
MLFLOW_PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/", "/api/2.0/", "/ajax-api/2.0/")


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path) the gateway answers, from the application itself."""
    out = []
    for route in create_app().routes:
        if isinstance(route, Mount):
            out.append(("GET", route.path))
        elif isinstance(route, Route):
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return out


def rule_of(method: str, path: str) -> Rule | None:
    if (method, path) in RULES:
        return RULES[method, path]
    for prefix in MLFLOW_PREFIXES:
        if path.startswith(prefix) and (method, path.removeprefix(prefix)) in MLFLOW:
            return MLFLOW[method, path.removeprefix(prefix)]
    return None


def test_every_route_has_its_row() -> None:
    routes = app_routes()
    missing = [f"{m} {p}" for m, p in routes if rule_of(m, p) is None]
    assert not missing, "routes without a row in RULES (who may call them?):\n" + "\n".join(missing)
    stale = [f"{m} {p}" for m, p in RULES if (m, p) not in routes]
    assert not stale, "rows for routes that no longer exist:\n" + "\n".join(stale)


# -- the callers ------------------------------------------------------------------------------------
KEYS = ("none", "malformed", "revoked", "viewer", "member", "other_admin")
TOKENS = ("embed_expired", "embed_revoked", "embed_other_scope", "share")
CALLERS = (*KEYS, *TOKENS, "session_no_csrf")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
LEVEL = {VIEWER: 0, MEMBER: 1, ADMIN: 2}


@dataclass
class World:
    """What the callers reach for: this workspace's objects, and every kind of credential."""

    workspace: str
    project: str
    experiment: str
    other_experiment: str
    report: str
    throwaway_key: str
    throwaway_embed: str
    mlflow_experiment: str
    mlflow_run: str
    logged_model: str
    credentials: dict[str, str]  # caller -> key or token
    session_cookie: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A platform of its own: the callers let in change things (a workspace's embed origins, its
    members) that the shared stack's other tests rely on."""
    s = start_stack(tmp_path_factory.mktemp("matrix"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def world(stack: Stack, other_workspace: dict[str, str]) -> World:
    project = f"matrix-{new_id()[:6]}/private"
    exp, other_exp = new_id(), new_id()
    open_experiment(stack, exp, project=project)
    open_experiment(stack, other_exp, project=project)
    with gateway(stack) as gw:
        wait_for("the experiments", lambda: gw.get(f"/api/v1/experiments/{other_exp}").status_code == 200)
        ws = gw.get("/api/v1/session").json()["workspace"]
        keys = {role: gw.post("/api/v1/keys", json={"name": f"matrix {role}", "role": role}).json()
                for role in ("viewer", "member")}  # fmt: skip
        revoked = gw.post("/api/v1/keys", json={"name": "matrix revoked", "role": "admin"}).json()
        assert gw.post(f"/api/v1/keys/{revoked['id']}/revoke").status_code == 200
        throwaway = gw.post("/api/v1/keys", json={"name": "matrix throwaway", "role": "viewer"}).json()
        widget = f"/widget/?objects={other_exp}&type=scalar&metrics=loss"
        other_scope = gw.post("/api/v1/embeds", json={"widget": widget}).json()
        revoked_embed = gw.post("/api/v1/embeds", json={"widget": f"/widget/?objects={exp}&type=scalar"}).json()
        assert gw.post(f"/api/v1/embeds/{revoked_embed['id']}/revoke").status_code == 200
        throwaway_embed = gw.post("/api/v1/embeds", json={"widget": f"/widget/?objects={exp}&type=single"}).json()
        secret = (stack.data_dir / "embed-secret").read_bytes().strip()
        expired = sign(secret, ws, throwaway_embed["id"], time.time() - 5)
        report = gw.post("/api/v1/reports", json={"name": "Matrix", "project": project}).json()
        share = gw.post(f"/api/v1/reports/{report['id']}/share", json={"expires_in_days": 1}).json()
        ml = "/api/2.0/mlflow"
        ml_exp = gw.post(f"{ml}/experiments/create", json={"name": f"{project}/mlflow"}).json()["experiment_id"]
        ml_run = gw.post(f"{ml}/runs/create", json={"experiment_id": ml_exp}).json()["run"]["info"]["run_id"]
        made = gw.post(f"{ml}/logged-models", json={"experiment_id": ml_exp, "source_run_id": ml_run, "name": "m"})
        assert made.status_code == 200, made.text
        model = made.json()["model"]["info"]["model_id"]
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as browser:
        signed = browser.post("/api/v1/session", json={"key": API_KEY})
        assert signed.status_code == 200, signed.text
        cookie = browser.cookies["tl_session"]
    wait_for("the revocations", lambda: _status(stack, "GET", "/api/v1/session", revoked["key"]) == 401)
    return World(
        workspace=ws,
        project=project,
        experiment=exp,
        other_experiment=other_exp,
        report=report["id"],
        throwaway_key=throwaway["id"],
        throwaway_embed=throwaway_embed["id"],
        mlflow_experiment=ml_exp,
        mlflow_run=ml_run,
        logged_model=model,
        credentials={
            "malformed": "tl_" + "x" * 43,
            "revoked": revoked["key"],
            "viewer": keys["viewer"]["key"],
            "member": keys["member"]["key"],
            "other_admin": other_workspace["key"],
            "embed_expired": expired,
            "embed_revoked": revoked_embed["token"],
            "embed_other_scope": other_scope["token"],
            "share": share["token"],
            "admin": API_KEY,
        },
        session_cookie=cookie,
    )


def _status(stack: Stack, method: str, path: str, key: str) -> int:
    with gateway(stack, key=key) as c:
        return c.request(method, path).status_code


def bodies(w: World) -> dict[tuple[str, str], Any]:
    """A request body each write would succeed with, for a caller allowed to make it (on this
    world's own objects: a caller kept out must be kept out of a change that would work)."""
    p, ml = w.project, "/api/2.0/mlflow/"
    run, model = {"run_id": w.mlflow_run}, w.logged_model
    return {
        ("PATCH", "/api/v1/projects/{project:path}"): {"description": "matrix"},
        ("POST", "/api/v1/views"): {"project": p, "name": "v", "state": "order=name"},
        ("POST", "/api/v1/views/delete"): {"project": p, "name": "v"},
        ("POST", "/api/v1/views/default"): {"project": p, "name": "v"},
        ("PATCH", EXP): {"description": "matrix"},
        ("POST", f"{EXP}/scalars/charts"): {"charts": [{"metric": "loss"}]},
        ("POST", f"{EXP}/tags"): {"add": ["matrix"]},
        ("POST", f"{EXP}/move"): {"project": p},
        ("POST", f"{EXP}/stop"): {"reason": "matrix"},
        ("POST", "/api/v1/experiments/bulk"): {"ids": [w.experiment], "action": "tags", "add": ["bulk"]},
        ("PATCH", f"{EXP}/hyperparameters"): {"section": "General", "set": {"a": 1}},
        ("PATCH", f"{EXP}/properties"): {"set": {"a": "b"}},
        ("POST", "/api/v1/keys"): {"name": "matrix made", "role": "viewer"},
        ("POST", "/api/v1/workspaces"): {"id": f"m-{new_id()[:8]}", "name": "matrix"},
        ("PATCH", "/api/v1/workspaces/{workspace}"): {"embed_origins": []},
        ("PUT", "/api/v1/workspaces/{workspace}/members/{user}"): {"role": "viewer"},
        ("POST", "/api/v1/embeds"): {"widget": f"/widget/?objects={w.experiment}&type=single"},
        ("POST", "/api/v1/reports"): {"name": "made", "project": p},
        ("PATCH", REPORT): {"version": 1, "body": "stale"},
        ("POST", f"{REPORT}/share"): {"expires_in_days": 1},
        ("POST", f"{REPORT}/share/revoke"): {"id": "0" * 16},
        ("PUT", "/api/v1/notes"): {"project": p, "version": 0, "text": "matrix"},
        ("PUT", f"{EXP}/notes"): {"version": 0, "text": "matrix"},
        ("POST", f"{ml}experiments/create"): {"name": f"{p}/made-{new_id()[:6]}"},
        ("POST", f"{ml}experiments/set-experiment-tag"): {"experiment_id": w.mlflow_experiment,
                                                           "key": "mlflow.note.content", "value": "x"},
        ("POST", f"{ml}experiments/update"): {"experiment_id": w.mlflow_experiment, "new_name": f"{p}/mlflow"},
        ("POST", f"{ml}experiments/delete"): {"experiment_id": w.mlflow_experiment},
        ("POST", f"{ml}experiments/restore"): {"experiment_id": w.mlflow_experiment},
        ("POST", f"{ml}runs/create"): {"experiment_id": w.mlflow_experiment},
        ("POST", f"{ml}runs/update"): {**run, "status": "RUNNING"},
        ("POST", f"{ml}runs/delete"): run,
        ("POST", f"{ml}runs/restore"): run,
        ("POST", f"{ml}runs/log-metric"): {**run, "key": "m", "value": 1.0, "timestamp": 1, "step": 0},
        ("POST", f"{ml}runs/log-batch"): {**run, "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 1}]},
        ("POST", f"{ml}runs/log-parameter"): {**run, "key": "p", "value": "1"},
        ("POST", f"{ml}runs/set-tag"): {**run, "key": "t", "value": "v"},
        ("POST", f"{ml}runs/delete-tag"): {**run, "key": "t"},
        ("POST", f"{ml}runs/log-inputs"): {**run, "datasets": []},
        ("POST", f"{ml}runs/outputs"): {**run, "models": [{"model_id": model, "step": 0}]},
        ("POST", f"{ml}runs/search"): {"experiment_ids": [w.mlflow_experiment]},
        ("POST", f"{ml}experiments/search"): {"max_results": 10},
        ("POST", f"{ml}logged-models"): {"experiment_id": w.mlflow_experiment, "name": "made"},
        ("POST", f"{ml}logged-models/search"): {"experiment_ids": [w.mlflow_experiment]},
        ("PATCH", f"{ml}logged-models/{{model_id}}"): {"model_id": model, "status": "LOGGED_MODEL_READY"},
        ("POST", f"{ml}logged-models/{{model_id}}/params"): {"model_id": model, "params": [{"key": "a", "value": "1"}]},
        ("PATCH", f"{ml}logged-models/{{model_id}}/tags"): {"model_id": model, "tags": [{"key": "a", "value": "b"}]},
    }  # fmt: skip


def concrete(world: World, method: str, path: str, caller: str) -> tuple[str, dict[str, Any], Any, bool]:
    """The route's path with this world's objects in it, the query and body it needs, and whether
    the request reaches for this workspace's objects."""
    token = world.credentials.get(caller, "none")
    values = {
        "experiment_id": world.experiment, "report_id": world.report, "key_id": world.throwaway_key,
        "workspace": world.workspace, "user": "matrix-user", "embed_id": world.throwaway_embed,
        "project": world.project, "name": "missing.png", "token": token, "path": "experiments",
        "model_id": world.logged_model, "tag_key": "t",
    }  # fmt: skip
    if path == "/widget/static/{name}":
        values["name"] = "plotly.js"
    url = path
    for name, value in values.items():
        url = url.replace("{" + name + "}", value)
        for convertor in ("expid", "reportid", "path", "page"):
            url = url.replace("{" + f"{name}:{convertor}" + "}", value)
    if "mlflow-artifacts/artifacts/" in path:
        url = url.replace(
            "artifacts/experiments", f"artifacts/{world.mlflow_experiment}/{world.mlflow_run}/artifacts/x.txt"
        )
    query: dict[str, Any] = {}
    if path == "/widget/":
        query = {"objects": world.experiment, "type": "scalar", "metrics": "loss", "format": "json"}
        if caller in TOKENS:
            query["token"] = token
    elif path in ("/api/v1/notes", "/api/v1/views", "/api/v1/columns"):
        query = {"project": world.project}
    elif path == "/api/v1/compare":
        query = {"ids": f"{world.experiment},{world.other_experiment}"}
    elif path == "/api/v1/embeds/code":
        query = {"objects": world.experiment, "type": "single"}
    elif "/mlflow/" in path and method == "GET":
        query = {
            "experiments/get": {"experiment_id": world.mlflow_experiment},
            "experiments/get-by-name": {"experiment_name": f"{world.project}/mlflow"},
            "experiments/search": {"max_results": 10},
            "runs/get": {"run_id": world.mlflow_run},
            "metrics/get-history": {"run_id": world.mlflow_run, "metric_key": "m"},
            "metrics/get-history-bulk-interval": {"run_ids": world.mlflow_run, "metric_key": "m"},
        }.get(path.split("/mlflow/", 1)[1], {})
    elif path.endswith("mlflow-artifacts/artifacts"):
        query = {"path": f"{world.mlflow_experiment}/{world.mlflow_run}/artifacts"}
    body = bodies(world).get((method, path), {}) if method in UNSAFE else None
    if "mlflow-artifacts" in path and method == "PUT":
        body = b"matrix"
    # (a project's path or an MLflow experiment's id, made from it, may be another workspace's too)
    mine = (world.experiment, world.other_experiment, world.report, world.throwaway_key, world.throwaway_embed,
            world.mlflow_run, world.logged_model, world.workspace)  # fmt: skip
    ours = any(x in f"{url}?{query}{body!r}" for x in mine)
    return url, query, body, ours


def call(stack: Stack, world: World, caller: str, method: str, path: str) -> tuple[httpx.Response, bool]:
    url, query, body, ours = concrete(world, method, path, caller)
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if caller == "session_no_csrf":
        cookies["tl_session"] = world.session_cookie
    elif caller != "none" and not (path in ("/widget/", "/api/v1/shared/{token}") and caller in TOKENS):
        headers["Authorization"] = f"Bearer {world.credentials[caller]}"
    with httpx.Client(base_url=stack.gateway_url, timeout=60, cookies=cookies) as c:
        if isinstance(body, bytes):
            return c.request(method, url, params=query, content=body, headers=headers), ours
        return c.request(method, url, params=query, json=body, headers=headers), ours


def expected(rule: Rule, caller: str, method: str, path: str, ours: bool) -> str:
    """ "in" (let in), "out" (kept out) or "either" (the answer depends on more than the caller)."""
    if rule.role == OPEN:
        return "in"
    if rule.role == TOKEN:
        if path == "/api/v1/shared/{token}":
            return "in" if caller == "share" else "out"
        if caller in ("viewer", "member") or (caller == "session_no_csrf" and method not in UNSAFE):
            return "in"
        return "out"
    if caller in ("none",):
        return "either" if rule.anonymous and not ours else "out"
    if caller in ("malformed", "revoked", *TOKENS):
        return "out"
    if caller == "session_no_csrf":
        return "out" if method in UNSAFE or not rule.session else "in"
    if caller == "other_admin":
        return "out" if ours else "in"
    return "in" if LEVEL[caller] >= LEVEL[rule.role] else "out"


def routes_to_call() -> Iterator[tuple[str, str]]:
    for method, path in app_routes():
        if path == "/metrics" or path.startswith("/ajax-api/"):  # (the same handlers as /api/2.0)
            continue
        yield method, path


def test_only_what_the_rules_allow_gets_in(stack: Stack, world: World) -> None:
    wrong: list[str] = []
    leaks: list[str] = []
    for method, path in routes_to_call():
        rule = rule_of(method, path)
        assert rule is not None
        for caller in CALLERS:
            r, ours = call(stack, world, caller, method, path)
            assert r.status_code < 500, f"{caller} {method} {path}: {r.status_code} {r.text[:300]}"
            want = expected(rule, caller, method, path, ours)
            # 404: kept out where not saying that the object exists is the rule; else a refusal
            # after the caller was let in
            got = "out" if r.status_code in (401, 403) or (r.status_code == 404 and want == "out") else "in"
            if path == "/api/v1/experiments/bulk" and r.status_code == 200:  # each experiment answered on its own
                got = "out" if all(x["status"] in (403, 404) for x in r.json()["results"]) else "in"
            if want != "either" and got != want:
                wrong.append(f"{caller:18} {method:6} {path}: {r.status_code} (expected {want}) {r.text[:120]}")
            if got == "in" and caller in ("none", "other_admin") and rule.role != OPEN:
                asked = str(r.request.url) + r.request.content.decode(errors="replace")  # (it may name what was sent)
                secrets = (world.experiment, world.other_experiment, world.report, world.mlflow_run)
                if any(x in r.text for x in secrets if x not in asked and quote(x, safe="") not in asked):
                    leaks.append(f"{caller} {method} {path}: {r.text[:200]}")
        control, _ = call(stack, world, "admin", method, path)
        if rule.role != TOKEN and control.status_code in (401, 403):
            wrong.append(f"admin              {method:6} {path}: {control.status_code} {control.text[:120]}")
    assert not wrong + leaks, (
        f"{len(wrong)} answers against the rules:\n"
        + "\n".join(wrong)
        + "\nanother workspace or a signed-out caller saw this workspace's objects:\n"
        + "\n".join(leaks)
    )


# Rules that hang on a field of the body rather than on the route: (caller, method, path, body, answer)
EXTRA = [
    ("member", "PATCH", "/api/v1/projects/{project}", {"public": True}, 403),  # making a project public: admins
    ("viewer", "POST", "/api/v1/keys", {"name": "x", "role": "viewer"}, 403),  # keys for others: admins
    ("member", "POST", "/api/v1/keys", {"name": "x", "role": "admin"}, 403),  # and never above one's role
    ("viewer", "PATCH", "/api/v1/projects/{project}", {"description": "x"}, 403),
]


def test_rules_on_a_field_of_the_body(stack: Stack, world: World) -> None:
    for caller, method, path, body, status in EXTRA:
        with gateway(stack, key=world.credentials[caller]) as c:
            r = c.request(method, path.replace("{project}", world.project), json=body)
        assert r.status_code == status, f"{caller} {method} {path} {body}: {r.status_code} {r.text}"


# -- gRPC: the public ingestion API (the other services' gRPC APIs are internal: no credential
# reaches them, and the Kubernetes NetworkPolicies let only the gateway and the services in,
# which tests/deploy checks) -------------------------------------------------------------------------
GRPC_CALLERS = ("none", "malformed", "revoked", "viewer", "member", "other_admin", *TOKENS)


def _grpc(stub: ingest_pb2_grpc.IngestServiceStub, name: str, exp: str, key: str | None) -> str:
    """The status of one call (for the stream: of its first answer, a rejection's code)."""
    md = (("authorization", f"Bearer {key}"),) if key else ()
    try:
        if name == "OpenExperiment":
            stub.OpenExperiment(ingest_pb2.OpenExperimentRequest(experiment_id=exp, project="matrix", name="n"),
                                metadata=md, timeout=10)  # fmt: skip
        elif name == "Append":
            stub.Append(batch(exp, scalar_event(10_000, [("m", "v", 0, 1.0)])), metadata=md, timeout=10)
        elif name == "PresignUpload":
            request = ingest_pb2.UploadRequest(experiment_id=exp, key="artifacts/x.txt", size=1)
            stub.PresignUpload(request, metadata=md, timeout=10)
        elif name == "Stream":
            sent = ingest_pb2.ClientMessage(batch=batch(exp, scalar_event(10_001, [("m", "v", 1, 1.0)])))
            answers = stub.Stream(iter([sent]), metadata=md, timeout=10)
            first = next(answers)
            answers.cancel()
            if first.WhichOneof("msg") == "rejected":
                return first.rejected.code
        else:
            raise AssertionError(f"IngestService.{name} has no row: who may call it?")
        return "OK"
    except grpc.RpcError as exc:
        return exc.code().name  # type: ignore[attr-defined, no-any-return]


def test_the_ingestion_api_lets_in_only_the_workspace_s_writers(stack: Stack, world: World) -> None:
    methods = [m.name for m in ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].methods]
    wrong = []
    with grpc.insecure_channel(stack.ingestion_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        for name in methods:
            for caller in GRPC_CALLERS:
                code = _grpc(stub, name, world.experiment, world.credentials.get(caller))
                if caller == "member":
                    ok = code not in ("UNAUTHENTICATED", "PERMISSION_DENIED")
                elif caller == "viewer":
                    ok = code == "PERMISSION_DENIED"
                elif caller == "other_admin":  # another workspace's experiment: not theirs to open or write to
                    # (writes answer as for an id never opened there: "unknown experiment; open it first")
                    ok = code == "PERMISSION_DENIED" if name == "OpenExperiment" else code == "INVALID_ARGUMENT"
                else:
                    ok = code == "UNAUTHENTICATED"
                if not ok:
                    wrong.append(f"{caller:18} {name}: {code}")
            control = _grpc(stub, name, world.experiment, API_KEY)
            if control in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
                wrong.append(f"admin              {name}: {control}")
    assert not wrong, "\n".join(wrong)


def test_no_credential_the_matrix_used_reached_a_log(stack: Stack, world: World) -> None:
    """Last in the module: every log of the matrix's platform (each service's, NATS's, the
    MongoDB-wire server's), searched for each key, token and session the callers sent."""
    used = {**world.credentials, "session": world.session_cookie}
    secrets = {who: secret for who, secret in used.items() if len(secret) >= 12}  # (what is not a guessable word)
    assert len(secrets) >= 10, sorted(secrets)
    logs = sorted((stack.data_dir / "logs").glob("*.log"))
    assert len(logs) >= 7 and sum(p.stat().st_size for p in logs) > 1_000, [p.name for p in logs]
    found = [f"{who}'s credential in {path.name}" for path in logs for who, secret in secrets.items()
             if secret in path.read_text(errors="replace")]  # fmt: skip
    assert not found, found
