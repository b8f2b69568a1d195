"""A real browser (Debian's Chromium, driven by Playwright) loads a widget inside an iframe of a
page from another origin, sees the chart drawn with the expected traces, and sees it refresh
while the experiment runs."""

from __future__ import annotations

import html
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devstack import Stack
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, wait_for

pytestmark = pytest.mark.engines

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Chromium missing: `make test` installs it (apt-get install chromium)"
)


@pytest.fixture
def host_page() -> Iterator[tuple[str, dict[str, str]]]:
    """Another origin (its own port) that serves a page framing whatever widget URL is set."""
    content: dict[str, str] = {"src": "about:blank"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                "<!doctype html><html><body><h1>A report</h1>"
                f'<iframe id="w" src="{html.escape(content["src"])}" width="100%" height="400"></iframe>'
                "</body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", content
    server.shutdown()
    server.server_close()


@needs_chromium
def test_a_widget_renders_in_a_cross_origin_iframe_and_refreshes(
    stack: Stack, host_page: tuple[str, dict[str, str]]
) -> None:
    from playwright.sync_api import sync_playwright

    a, b = new_id(), new_id()
    for exp, name in ((a, "first"), (b, "second")):
        open_experiment(stack, exp, project="widget-browser", name=name)
        points = [("loss", "train", i, 1.0 / (i + 1)) for i in range(20)]
        ingest(stack).Append(batch(exp, scalar_event(1, points)), metadata=AUTH, timeout=10)
    with gateway(stack) as gw:
        for exp in (a, b):
            wait_for("points", lambda e=exp: gw.get(f"/api/v1/experiments/{e}").json().get("metrics"))  # type: ignore[misc]
        code = gw.get("/api/v1/embeds/code", params={"objects": [a, b], "metrics": "loss", "variants": "train"}).json()
    url, content = host_page
    content["src"] = code["url"]
    assert url.split(":")[2] != stack.gateway_url.split(":")[2]  # two origins: other ports

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            failures: list[str] = []
            page.on("console", lambda m: failures.append(m.text) if m.type == "error" else None)
            page.goto(url)
            frame = page.frame_locator("#w")
            frame.locator("body[data-state=drawn]").wait_for(timeout=30_000)
            chart = frame.locator(".tl-chart .scalar-chart")  # the web UI's chart, in the UI's theme
            assert chart.get_attribute("data-series") == "2"
            legend = chart.locator(".legend li button").all_text_contents()
            assert sorted(legend) == ["first · train", "second · train"]
            assert failures == []  # no CSP violation, nothing blocked

            # Both runs are running: the widget polls, and new points appear without a reload.
            def drawn_points() -> int:
                counted = page.frame_locator("#w").locator(".tl-chart .scalar-chart").get_attribute("data-points")
                return int(counted or 0)

            assert drawn_points() == 20
            more = [("loss", "train", i, 0.01) for i in range(20, 30)]
            ingest(stack).Append(batch(a, scalar_event(2, more)), metadata=AUTH, timeout=10)
            wait_for("the widget to refresh", lambda: drawn_points() == 30, timeout=30)
        finally:
            browser.close()
