"""``/widget/``: every type, both identity forms (ids and dynamic queries), ``format=json``, the
embed-token rules, the page's safety headers, and the "Embed" action. The browser test (a real
Chromium loading the widget in an iframe of another origin) is in test_widget_browser.py."""

from __future__ import annotations

import hashlib
import html
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack import Stack
from gateway.embeds import sign
from tests.conftest import API_KEY, PYTHON, batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for

pytestmark = pytest.mark.engines

SCRIPT = r"""
import json, sys, tempfile
import numpy as np
import tracklane

project, evil = sys.argv[1], sys.argv[2]
ids = {}
for name, lr, tags, acc in (("alpha", 0.1, ["prod"], 0.9), (evil, 0.01, ["dev"], 0.8)):
    with tracklane.init(project=project, name=name, tags=tags, capture_console=False, monitor_interval=None) as exp:
        exp.log_params({"lr": lr, "opt": "sgd" if lr > 0.05 else "adam"}, section="Args")
        for i in range(50):
            exp.log_scalar("loss", "train", 1.0 / (i + 1) + lr, iteration=i)
            exp.log_scalar("loss", "val", 1.2 / (i + 1) + lr, iteration=i)
            exp.log_scalar("accuracy", "val", acc * i / 49, iteration=i)
        exp.log_single_value("test_acc", acc)
        if name == "alpha":
            exp.log_confusion_matrix("conf", "matrix", [[5, 1], [2, 7]], labels=["a", "b"], iteration=3)
            for it in range(3):
                exp.log_image("samples", "img", np.full((8, 8), it / 3.0), iteration=it)
            model = tempfile.NamedTemporaryFile(suffix=".bin", delete=False)
            model.write(b"weights")
            model.close()
            exp.log_model(model.name, name="best", framework="numpy")
    ids[name if name == "alpha" else "beta"] = exp.id
print(json.dumps(ids))
"""

EVIL = "</script><script>alert(1)</script>"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def runs(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two finished runs (alpha: plots, samples, a model; beta: a hostile name) and a running one
    (gamma), all in a fresh project."""
    project = "widget-" + secrets.token_hex(3)
    env = {
        **os.environ,
        "TRACKLANE_SERVER": stack.ingestion_addr,
        "TRACKLANE_API_KEY": API_KEY,
        "TRACKLANE_CONFIG_DIR": str(tmp_path_factory.mktemp("cfg")),
    }
    done = subprocess.run(
        [PYTHON, "-c", SCRIPT, project, EVIL], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ids: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    gamma = new_id()
    open_experiment(stack, gamma, project=project, name="gamma")
    ingest(stack).Append(batch(gamma, scalar_event(1, [("loss", "train", 0, 2.0)])), metadata=AUTH, timeout=10)
    ids["gamma"] = gamma
    with gateway(stack) as gw:
        for exp in ids.values():
            wait_for("the runs' points", lambda e=exp: gw.get(f"/api/v1/experiments/{e}").json().get("metrics"))  # type: ignore[misc]
        wait_for(
            "alpha's samples",
            lambda: len(gw.get(f"/api/v1/experiments/{ids['alpha']}/debug-samples").json()["samples"]) == 1,
        )
        wait_for("alpha's model", lambda: gw.get(f"/api/v1/experiments/{ids['alpha']}/models").json()["models"])
    return {**ids, "project": project}


@pytest.fixture
def gw(stack: Stack) -> Iterator[httpx.Client]:
    with gateway(stack) as client:
        yield client


def widget_json(client: httpx.Client, **params: Any) -> dict[str, Any]:
    r = client.get("/widget/", params={**params, "format": "json"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def traces(body: dict[str, Any]) -> list[str]:
    return [t["name"] for chart in body["charts"] for t in chart["data"]]


def test_scalar_charts_overlay_experiments_per_metric(gw: httpx.Client, runs: dict[str, str]) -> None:
    a, b = runs["alpha"], runs["beta"]
    body = widget_json(gw, objects=[a, b], type="scalar", metrics="loss", variants="train", xaxis="iter")
    assert [c["title"] for c in body["charts"]] == ["loss"]
    names = traces(body)
    assert len(names) == 2 and names[0] == "alpha · train"
    assert "&lt;/script&gt;" in names[1] and "<" not in names[1]  # names are text, never markup
    alpha = body["charts"][0]["data"][0]
    assert alpha["x"] == list(range(50)) and alpha["y"][0] == pytest.approx(1.1)
    assert body["running"] is False and {e["id"] for e in body["experiments"]} == {a, b}

    everything = widget_json(gw, objects=a)  # no metrics: every series, one chart per metric
    assert [c["title"] for c in everything["charts"]] == ["Summary", "accuracy", "loss"]
    assert sorted(traces(everything)) == ["test_acc", "train", "val", "val"]
    wall = widget_json(gw, objects=a, metrics="loss", xaxis="iso_time")
    assert wall["charts"][0]["layout"]["xaxis"]["type"] == "date" and wall["charts"][0]["data"][0]["x"][0] > 1e12
    relative = widget_json(gw, objects=a, metrics="loss", variants="val", xaxis="timestamp")
    assert 0 <= relative["charts"][0]["data"][0]["x"][0] < 60
    by_md5 = widget_json(gw, objects=a, metrics=md5("loss"), variants=md5("val"))
    assert traces(by_md5) == ["val"]


def test_running_experiments_make_the_widget_refresh(gw: httpx.Client, runs: dict[str, str]) -> None:
    body = widget_json(gw, objects=[runs["gamma"], runs["alpha"]], metrics="loss", variants="train")
    assert body["running"] is True
    assert {e["status"] for e in body["experiments"]} == {"running", "completed"}


def test_plot_single_sample_and_parcoords(gw: httpx.Client, runs: dict[str, str]) -> None:
    a, b = runs["alpha"], runs["beta"]
    plot = widget_json(gw, objects=a, type="plot")
    assert len(plot["charts"]) == 1 and plot["charts"][0]["data"][0]["type"] == "heatmap"
    assert plot["charts"][0]["title"].startswith("conf / matrix")
    assert widget_json(gw, objects=a, type="plot", iteration=3)["charts"]
    assert widget_json(gw, objects=a, type="plot", iteration=99)["charts"] == []

    single = widget_json(gw, objects=[a, b], type="single")
    table = single["charts"][0]["data"][0]
    assert table["type"] == "table" and table["header"]["values"] == ["experiment", "test_acc"]
    assert table["cells"]["values"][1] == ["0.9", "0.8"]

    sample = widget_json(gw, objects=a, type="sample", metrics="samples")
    assert [(s["metric"], s["variant"], s["iteration"]) for s in sample["samples"]] == [("samples", "img", 2)]
    assert sample["samples"][0]["iterations"] == [0, 1, 2] and sample["samples"][0]["content_type"] == "image/png"
    image = httpx.get(sample["samples"][0]["url"], timeout=10)
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert widget_json(gw, objects=a, type="sample", iteration=1)["samples"][0]["iteration"] == 1

    par = widget_json(
        gw, objects=[a, b], type="parcoords", metrics="accuracy/val", variants=["Args.lr", "Args.opt"],
        value_type="max_value",
    )  # fmt: skip
    dims = par["charts"][0]["data"][0]["dimensions"]
    assert [d["label"] for d in dims] == ["Args.lr", "Args.opt", "accuracy/val"]
    assert dims[0]["values"] == [0.1, 0.01] and dims[2]["values"] == pytest.approx([0.9, 0.8])
    assert dims[1]["ticktext"] == ["adam", "sgd"] and dims[1]["values"] == [1, 0]
    clearml = widget_json(
        gw, objects=[a, b], type="parcoords", metrics=f"{md5('accuracy')}.{md5('val')}", variants="Args.lr",
        value_type="max_value",
    )  # fmt: skip
    assert clearml["charts"][0]["data"][0]["dimensions"][1]["label"] == "accuracy/val"


def test_dynamic_queries_are_evaluated_on_every_request(stack: Stack, gw: httpx.Client, runs: dict[str, str]) -> None:
    project = runs["project"]

    def shown(**query: Any) -> list[str]:
        return [e["id"] for e in widget_json(gw, project=project, metrics="loss", **query)["experiments"]]

    assert set(shown()) == {runs["alpha"], runs["beta"], runs["gamma"]}
    assert shown(**{"tags[]": "prod"}) == [runs["alpha"]]
    assert set(shown(**{"tags[]": "-prod"})) == {runs["beta"], runs["gamma"]}
    assert shown(**{"status[]": "in_progress"}) == [runs["gamma"]]
    best = {"order_by[]": f"-last_metrics.{md5('accuracy')}.{md5('val')}.max_value", "page_size": 1}
    assert shown(**best) == [runs["alpha"]]
    assert shown(**{"order_by[]": "metrics.accuracy/val.max", "page_size": 1, "status[]": "completed"}) == [
        runs["beta"]
    ]
    assert shown(**{"order_by[]": "-last_update", "page_size": 1, "page": 0}) != []

    # The query runs again on each refresh: a new matching run appears.
    newer = new_id()
    open_experiment(stack, newer, project=project, name="delta")
    wait_for("the new run in the query", lambda: newer in shown(**{"status[]": "running"}))


def test_models_and_bad_parameters(gw: httpx.Client, runs: dict[str, str]) -> None:
    a, b = runs["alpha"], runs["beta"]
    model = widget_json(gw, objectType="model", objects=f"{a}:best", metrics="loss")
    assert [(e["id"], e["models"]) for e in model["experiments"]] == [(a, ["best"])]
    assert widget_json(gw, objectType="model", objects=b)["experiments"] == []  # beta has no model
    assert gw.get("/widget/", params={"objectType": "model", "objects": f"{a}:nope"}).status_code == 404
    for params, field in [
        ({"objects": a, "type": "bogus"}, "type"),
        ({"objects": a, "xaxis": "days"}, "xaxis"),
        ({"objects": a, "objectType": "dataset"}, "objectType"),
        ({"project": "x", "page_size": "500"}, "page_size"),
        ({"project": "x", "status[]": "queued"}, "status"),
        ({"project": "x", "order_by[]": "cost"}, "order_by"),
        ({"project": "x", "tags[]": "it's"}, "tags"),
        ({"objects": a, "type": "parcoords"}, "metrics"),
        ({"objects": a, "format": "xml"}, "format"),
        ({"objects": ["", ""]}, "objects"),  # empty ids are a mistake, not a dynamic query
        ({"objects": [a] * 51}, "objects"),  # 51 given, even the same one: over the limit
    ]:
        r = gw.get("/widget/", params=params)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, (params, r.text)
    assert gw.get("/widget/", params={"objects": "not-an-id"}).status_code == 404
    assert gw.get("/widget/", params={"objects": new_id()}).status_code == 404


def test_embed_tokens_grant_exactly_their_scope(stack: Stack, gw: httpx.Client, runs: dict[str, str]) -> None:
    a, b = runs["alpha"], runs["beta"]
    anon = gateway(stack, key=None)
    assert anon.get("/widget/", params={"objects": a}).status_code == 404  # private: not without a token
    r = gw.post("/api/v1/embeds", json={"widget": f"/widget/?objects={a}&type=scalar&metrics=loss", "name": "report"})
    assert r.status_code == 201, r.text
    grant = r.json()
    token = grant["token"]
    assert grant["scope"] == {"object_type": "task", "objects": [a]}
    ok = anon.get("/widget/", params={"objects": a, "metrics": "loss", "token": token, "format": "json"})
    assert ok.status_code == 200 and traces(ok.json()) == ["train", "val"]
    assert anon.get("/widget/", params={"objects": a, "type": "single", "token": token}).status_code == 200
    other = anon.get("/widget/", params={"objects": [a, b], "token": token})
    assert other.status_code == 403 and other.json()["error"]["field"] == "token"
    assert anon.get("/widget/", params={"project": runs["project"], "token": token}).status_code == 403
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert anon.get("/widget/", params={"objects": a, "token": tampered}).status_code == 401

    # Expired: a genuine signature (the stack's own secret) whose time is up.
    secret = (stack.data_dir / "embed-secret").read_bytes().strip()
    ws = gw.get("/api/v1/workspaces").json()["workspaces"][0]["id"]
    old = sign(secret, ws, grant["id"], time.time() - 5)
    r = anon.get("/widget/", params={"objects": a, "token": old})
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]

    # A dynamic query is granted as a whole: another page or filter is not covered.
    query = f"/widget/?project={runs['project']}&tags[]=prod&type=scalar"
    qtoken = gw.post("/api/v1/embeds", json={"widget": query, "expires_in": 3600}).json()["token"]
    params = {"project": runs["project"], "tags[]": "prod", "token": qtoken, "format": "json"}
    assert [e["id"] for e in anon.get("/widget/", params=params).json()["experiments"]] == [a]
    assert anon.get("/widget/", params={**params, "page_size": 50}).status_code == 403
    assert anon.get("/widget/", params={**params, "tags[]": "dev"}).status_code == 403

    listed = {e["id"]: e for e in gw.get("/api/v1/embeds").json()["embeds"]}
    assert listed[grant["id"]]["revoked"] is False and "token" not in listed[grant["id"]]
    assert gw.post(f"/api/v1/embeds/{grant['id']}/revoke").json() == {"id": grant["id"], "revoked": True}
    r = anon.get("/widget/", params={"objects": a, "token": token})
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert gw.post("/api/v1/embeds/0123456789abcdef/revoke").status_code == 404

    viewer = gw.post("/api/v1/keys", json={"role": "viewer", "name": "embed-viewer"}).json()["key"]
    with gateway(stack, key=viewer) as v:
        assert v.post("/api/v1/embeds", json={"objects": [a]}).status_code == 403
    for body, field in [
        ({}, "widget"),
        ({"objects": [a], "widget": "x"}, "widget"),
        ({"objects": [a], "expires_in": 10}, "expires_in"),
        ({"objects": "nope"}, "objects"),
    ]:
        r = gw.post("/api/v1/embeds", json=body)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    assert gw.post("/api/v1/embeds", json={"objects": [new_id()]}).status_code == 404
    anon.close()


def test_embed_code_adds_a_token_only_for_private_objects(stack: Stack, gw: httpx.Client, runs: dict[str, str]) -> None:
    a = runs["alpha"]
    first = gw.get("/api/v1/embeds/code", params={"objects": a, "type": "scalar", "metrics": "loss"}).json()
    assert first["public"] is False and first["grant"]
    assert first["code"].startswith('<iframe src="') and 'width="100%" height="400"' in first["code"]
    assert "token=tle_" in first["url"] and "&amp;" in first["code"]
    again = gw.get("/api/v1/embeds/code", params={"objects": a, "type": "scalar", "metrics": "loss"}).json()
    assert again["grant"] == first["grant"] and again["url"] == first["url"]  # one grant, reused
    with gateway(stack, key=None) as anon:
        path = first["url"].split("/widget/", 1)[1]
        assert anon.get(f"/widget/{path}&format=json").json()["experiments"][0]["id"] == a

    public = "widget-public-" + secrets.token_hex(3)
    shown = new_id()
    open_experiment(stack, shown, project=public, name="shown")
    ingest(stack).Append(batch(shown, scalar_event(1, [("loss", "train", 0, 1.0)])), metadata=AUTH, timeout=10)
    wait_for("the public run", lambda: gw.get(f"/api/v1/experiments/{shown}").json().get("metrics"))
    assert gw.patch(f"/api/v1/projects/{public}", json={"public": True}).status_code == 200
    code = gw.get("/api/v1/embeds/code", params={"objects": shown}).json()
    assert code["public"] is True and code["grant"] is None and "token=" not in code["url"]
    with gateway(stack, key=None) as anon:
        path = code["url"].split("/widget/", 1)[1]
        assert anon.get(f"/widget/{path}&format=json").json()["experiments"][0]["id"] == shown
        r = anon.get("/widget/", params={"project": public, "format": "json"})
        assert r.status_code == 401 and r.json()["error"]["field"] == "workspace"
        ws = gw.get("/api/v1/workspaces").json()["workspaces"][0]["id"]
        found = anon.get("/widget/", params={"project": public, "company": ws, "format": "json"}).json()
        assert [e["id"] for e in found["experiments"]] == [shown]


def test_the_page_is_self_contained_safe_and_framable_where_allowed(gw: httpx.Client, runs: dict[str, str]) -> None:
    r = gw.get("/widget/", params={"objects": [runs["alpha"], runs["beta"]], "metrics": "loss", "light": ""})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<body class="light"' in page
    assert EVIL not in page and "alert(1)" in page  # present as data, never as markup
    assert page.count("<script") == 2  # the JSON block and the web UI's widget module: no inline code
    assert '<html lang="en" data-theme="light">' in page  # drawn in the UI's light theme
    srcs = [part.split('"')[0] for part in page.replace('href="', 'src="').split('src="')[1:]]
    assert srcs and all(s.startswith("/assets/") for s in srcs)  # the UI's own files, nothing from elsewhere
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors *" in csp
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-content-type-options"] == "nosniff"
    for src in srcs:
        asset = gw.get(src)
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    plotly = gw.get("/widget/static/plotly.js", follow_redirects=False)  # logged plots load it by this name
    assert plotly.status_code == 302 and plotly.headers["cache-control"] == "no-cache"
    hashed_url = f"/widget/static/{plotly.headers['location']}"
    hashed = gw.get(hashed_url, headers={"accept-encoding": "gzip"})
    assert hashed.status_code == 200 and "immutable" in hashed.headers["cache-control"]
    assert hashed.headers["content-encoding"] == "gzip"
    assert gw.get(hashed_url, headers={"if-none-match": hashed.headers["etag"]}).status_code == 304
    assert gw.get("/widget/static/plotly-0000.js").status_code == 404

    ws = gw.get("/api/v1/workspaces").json()["workspaces"][0]["id"]
    r = gw.patch(f"/api/v1/workspaces/{ws}", json={"embed_origins": ["https://grafana.example.com"]})
    assert r.status_code == 200 and r.json()["embed_origins"] == ["https://grafana.example.com"]
    framed = gw.get("/widget/", params={"objects": runs["alpha"]})
    assert framed.headers["content-security-policy"].endswith("frame-ancestors https://grafana.example.com")
    assert gw.patch(f"/api/v1/workspaces/{ws}", json={"embed_origins": []}).status_code == 200
    closed = gw.get("/widget/", params={"objects": runs["alpha"]})
    assert closed.headers["content-security-policy"].endswith("frame-ancestors 'self'")
    bad = gw.patch(f"/api/v1/workspaces/{ws}", json={"embed_origins": ["javascript:alert(1)"]})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "embed_origins[0]"
    assert gw.patch(f"/api/v1/workspaces/{ws}", json={"embed_origins": None}).json()["embed_origins"] is None
    assert (
        "frame-ancestors *" in gw.get("/widget/", params={"objects": runs["alpha"]}).headers["content-security-policy"]
    )
    assert gw.patch("/api/v1/workspaces/someone-else", json={"name": "x"}).status_code == 404


def test_a_run_that_logged_nan_and_infinity_draws(stack: Stack, gw: httpx.Client) -> None:
    """NaN and ±Infinity are stored as reported; the page carries them as strings, as the API does
    (it answered 500 before: found by schemathesis)."""
    exp = new_id()
    open_experiment(stack, exp, project="widget-nan", name="diverged")
    points = [("loss", "train", 0, 1.0), ("loss", "train", 1, float("nan")), ("loss", "train", 2, float("inf"))]
    ingest(stack).Append(batch(exp, scalar_event(1, points)), metadata=AUTH, timeout=10)
    wait_for("3 points", lambda: total_points(gw, exp, "loss", "train") == 3)
    page = gw.get("/widget/", params={"objects": exp, "metrics": "loss"})
    assert page.status_code == 200, page.text
    data = json.loads(page.text.split('id="tl-data">', 1)[1].split("</script>", 1)[0])
    values = [v for chart in data["charts"] for trace in chart["data"] for v in trace.get("y", [])]
    assert "NaN" in values and "Infinity" in values and 1.0 in values


WIDGETS: dict[str, dict[str, Any]] = {
    "scalar": {"metrics": "loss"},
    "plot": {"metrics": "conf"},
    "single": {},
    "sample": {"metrics": "samples"},
    "parcoords": {"metrics": "accuracy/val", "variants": ["Args.lr", "Args.opt"], "value_type": "max_value"},
}


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_every_widget_type_renders_in_both_themes(gw: httpx.Client, runs: dict[str, str], theme: str) -> None:
    """As a person embedding them would see them in Debian's headless Chromium (no GPU, so no
    WebGL): each type drawn, readable (axe's contrast rules), no console error."""
    from playwright.sync_api import expect

    from tests.e2e.browser import accessible, chromium, shot

    ids = [runs["alpha"], runs["beta"]]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 700})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for kind, params in WIDGETS.items():
            code = gw.get("/api/v1/embeds/code", params={"objects": ids, "type": kind, **params})
            assert code.status_code == 200, code.text
            page.goto(code.json()["url"] + ("&light=" if theme == "light" else ""))
            page.locator("body[data-state=drawn]").wait_for(timeout=30_000)
            assert "WebGL" not in page.inner_text("body")
            if kind == "scalar":  # the Scalars tab's chart (uPlot): each line inside its min/max band
                chart = page.locator(".tl-chart .scalar-chart")
                assert chart.get_attribute("data-series") == "4"  # loss train/val for 2 runs
                assert chart.get_attribute("data-layers") == ",".join(["line", "hi", "lo"] * 4)
                assert EVIL + " · train" in page.locator(".tl-chart").inner_text()  # the hostile name as text
            elif kind == "plot":
                plot = page.locator(".tl-chart .plotly-view")
                expect(plot).to_have_attribute("data-state", "drawn")
                assert plot.evaluate("el => el.data[0].type") == "heatmap"
            elif kind == "single":
                cells = page.get_by_role("region").get_by_role("cell").all_text_contents()
                assert "0.9" in cells and "0.8" in cells and EVIL in cells  # the name as text, not markup
            elif kind == "sample":  # "drawn" is the markup: the image itself may still be loading
                page.wait_for_function("() => document.querySelector('.tl-sample img')?.complete", timeout=30_000)
                assert page.evaluate("() => document.querySelector('.tl-sample img').naturalWidth") == 8
            else:  # parallel coordinates in 2-D: a line per run over the three axes
                figure = page.get_by_role("figure", name="accuracy/val (max)")
                expect(figure).to_have_attribute("data-state", "drawn")
                drawn = figure.evaluate("el => el.data.map(t => [t.name, t.y])")
                assert sorted(name for name, _ in drawn) == sorted(["alpha", html.escape(EVIL)])  # Plotly: text
                assert all(len(y) == 3 and all(v is None or 0 <= v <= 1 for v in y) for _, y in drawn)
                assert figure.evaluate("el => el.layout.xaxis.ticktext") == ["Args.lr", "Args.opt", "accuracy/val"]
            shot(page, f"widget-{kind}-{theme}")
            accessible(page, f"the {kind} widget, {theme}")
        assert errors == []
