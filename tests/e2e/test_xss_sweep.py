"""Every string a training script or a person can set — an experiment's name, description and
tags, parameter names and values, user properties, configuration, console lines, plot titles,
axis labels and trace names, metric and variant names, artifact names and metadata — carrying
XSS payloads, through the web UI's every tab, the project table, the comparison, and the widgets
of every type: no payload runs (dialogs and the console watched in Chromium) and no element
of the page carries live code (event handlers, script URLs, frames of other origins)."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from devstack import Stack
from tests.conftest import API_KEY, PYTHON
from tests.e2e.browser import chromium, shot, signed_in
from tests.e2e.helpers import gateway, wait_for
from tests.e2e.test_widget_browser import CHROMIUM

pytestmark = [
    pytest.mark.engines,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]

# Each ends with its number: a dialog says which one ran.
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "<svg onload=alert(3)>",
    '"><img src=x onerror=alert(4)>',
    "javascript:alert(5)",
    '<a href="javascript:alert(6)">six</a>',
    "<iframe srcdoc='<script>alert(7)</script>'></iframe>",
    "<details open ontoggle=alert(8)>",
    "<b onmouseover=alert(9)>nine</b>",
    "{{constructor.constructor('alert(10)')()}}",
]

SCRIPT = textwrap.dedent(
    r"""
    import json, sys
    import numpy as np
    import tracklane

    P = json.loads(sys.argv[1])
    refused = []

    def attempt(what, fn):
        try:
            fn()
        except Exception as exc:  # a field that refuses the string cannot carry it
            refused.append(f"{what}: {exc}")

    exp = tracklane.init(project="xss/sweep", name=P[0], tags=P[:4], monitor_interval=None)
    attempt("params", lambda: exp.log_params({f"p{i} {p}": p for i, p in enumerate(P)}, section=P[1]))
    attempt("configuration", lambda: exp.connect_configuration({"x": P}, name="cfg " + P[2]))
    attempt("properties", lambda: exp.set_user_properties(**{f"k{i}": p for i, p in enumerate(P)}))
    for i, p in enumerate(P):
        print(p)
        exp.log_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
        attempt("metric name", lambda: exp.log_scalar(p, p, float(i), iteration=i))
    exp.log_text(P[3], level="error")
    figure = {"data": [{"type": "bar", "x": P[:3], "y": [1, 2, 3], "name": P[4], "text": P[5:8]}],
              "layout": {"title": {"text": P[6]}, "xaxis": {"title": {"text": P[7]}}, "annotations": [{"text": P[8]}]}}
    attempt("plot", lambda: exp.log_plot("plot " + P[0], P[1], figure, iteration=1))
    attempt("table", lambda: exp.log_table("table", P[2], {"col " + P[0]: P[:3]}, iteration=1))
    attempt("image", lambda: exp.log_image("img " + P[0], P[3], np.zeros((4, 4, 3), dtype=np.uint8), iteration=0))
    attempt("artifact", lambda: exp.upload_artifact("art " + P[0], {"v": P}, metadata={"m": P[1]}))
    exp.close()
    print("REFUSED", json.dumps(refused))
    print("ID", exp.id)
    """
)

# What must not be in the page: elements with event handlers, script URLs, srcdoc frames, frames
# from elsewhere, <script> elements the application did not load.
LIVE = """() => [...document.querySelectorAll('*')].flatMap((el) => {
    const bad = [];
    const urls = ['href', 'src', 'action', 'xlink:href', 'formaction'];
    for (const a of el.attributes) {
        const v = a.value.replace(/[\\s\\x00-\\x1f]/g, '').toLowerCase();
        if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name);
        if (urls.includes(a.name) && /^(javascript|vbscript|data:text\\/html)/.test(v)) bad.push(el.tagName + ' ' + v);
    }
    const src = el.getAttribute('src') || '';
    const widget = src.startsWith('/widget/') || src.startsWith(location.origin + '/widget/');
    if (el.tagName === 'IFRAME' && (el.hasAttribute('srcdoc') || !widget)) bad.push('IFRAME ' + (src || 'srcdoc'));
    // the application's own scripts, and data blocks (JSON: never run)
    const data = el.getAttribute('type') === 'application/json';
    if (el.tagName === 'SCRIPT' && !data && !/^(\\/assets\\/|\\/widget\\/static\\/)/.test(src)) {
        bad.push('SCRIPT ' + el.textContent.slice(0, 40));
    }
    return bad;
})"""


def _seed(stack: Stack, work: Path) -> tuple[str, list[str]]:
    import json

    (work / "train.py").write_text(SCRIPT)
    env = dict(os.environ, TRACKLANE_SERVER=stack.ingestion_addr, TRACKLANE_API_KEY=API_KEY,
               TRACKLANE_CACHE_DIR=str(work / "cache"))  # fmt: skip
    run = subprocess.run([PYTHON, "train.py", json.dumps(PAYLOADS)], cwd=work, env=env, capture_output=True,
                         text=True, timeout=180)  # fmt: skip
    assert run.returncode == 0, run.stderr
    exp = run.stdout.strip().split("ID ")[-1]
    refused = json.loads(run.stdout.split("REFUSED ", 1)[1].splitlines()[0])
    with gateway(stack) as gw:
        wait_for("the run", lambda: gw.get(f"/api/v1/experiments/{exp}").json().get("status") == "completed")
        url = f"/api/v1/experiments/{exp}"
        assert gw.patch(url, json={"description": " ".join(PAYLOADS)}).status_code == 200
        assert gw.put(f"{url}/notes", json={"version": 0, "text": "\n\n".join(PAYLOADS)}).status_code == 200
    return exp, refused


def _watch(page: Any) -> tuple[list[str], list[str]]:
    fired: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (fired.append(d.message), d.dismiss()))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return fired, errors


def _look(page: Any, url: str, live: list[str], name: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    time.sleep(0.5)
    shot(page, f"xss-sweep-{name}")
    for x, y in ((200, 200), (600, 400), (900, 600), (300, 700)):  # hover whatever a payload may cover
        page.mouse.move(x, y)
    live += [f"{url}: {b}" for b in page.evaluate(LIVE)]
    for frame in page.frames[1:]:  # the widgets inside the page, if any
        live += [f"{url} (frame {frame.url[:60]}): {b}" for b in frame.evaluate(LIVE)]


def test_user_strings_render_inert_in_the_ui_and_the_widgets(stack: Stack, tmp_path: Path) -> None:
    exp, refused = _seed(stack, tmp_path)
    # The fields that refuse such strings say so; everything else carries them.
    assert not [r for r in refused if not r.startswith(("metric name", "table"))], refused
    with gateway(stack) as gw:
        token = gw.post("/api/v1/embeds", json={"widget": f"/widget/?objects={exp}&type=scalar"}).json()["token"]
        assert gw.get(f"/api/v1/experiments/{exp}").json()["name"] == PAYLOADS[0]  # stored as given
    base = stack.gateway_url
    pages = [f"{base}/projects/xss/sweep", f"{base}/projects/xss/sweep?exp={exp}&tab=info"]
    tabs = ("scalars", "plots", "samples", "execution", "configuration", "artifacts", "console", "notes")
    pages += [f"{base}/projects/xss/sweep?exp={exp}&tab={tab}" for tab in tabs]
    pages += [f"{base}/experiments/{exp}", f"{base}/"]
    widgets = [f"{base}/widget/?objects={exp}&type={kind}&token={token}" for kind in ("scalar", "single", "table")]
    plot = f"plot%20{PAYLOADS[0]}"
    widgets.append(f"{base}/widget/?objects={exp}&type=plot&metrics={plot}&token={token}")
    live: list[str] = []
    with chromium() as browser:
        page = signed_in(browser, stack)
        fired, errors = _watch(page)
        for url in pages:
            name = (
                url.rsplit("=", 1)[-1] if "tab=" in url else ("projects" if url == f"{base}/" else url.rsplit("/")[-1])
            )
            _look(page, url, live, name if "tab=" in url or name in ("projects", "sweep") else "experiment")
        page.goto(f"{base}/projects/xss/sweep?exp={exp}&tab=info")
        page.get_by_role("heading", name=PAYLOADS[0]).wait_for()  # shown, as text
        # the probe sees what it must: an element given a handler by script is found
        page.evaluate("() => document.body.appendChild(document.createElement('b')).setAttribute('onclick', 'x')")
        assert page.evaluate(LIVE) == ["B onclick"]
        widget_page = browser.new_page(viewport={"width": 900, "height": 600})
        fired_w, errors_w = _watch(widget_page)
        for i, url in enumerate(widgets):
            _look(widget_page, url, live, f"widget-{i}")
    assert fired + fired_w == [], f"a payload ran: {fired + fired_w}"
    assert live == [], "live code in the page:\n" + "\n".join(live)
    noise = ("Content Security Policy", "Failed to load resource")
    assert not [e for e in errors + errors_w if not any(n in e for n in noise)], errors + errors_w
