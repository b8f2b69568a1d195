"""The web UI's figures for ``make bench``: how long a project of many experiments takes to show
its first 50 rows after navigation (in Debian's Chromium, the page's own requests included), and
how much JavaScript the first page load brings, gzipped."""

from __future__ import annotations

import gzip
import re
import shutil
import time
from pathlib import Path

from devstack import Stack

UI_DIST = Path(__file__).resolve().parents[1] / "gateway" / "ui" / "dist"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROWS = 50


def initial_script_kb() -> float:
    """The gzipped size of the scripts index.html loads (what a first visit downloads)."""
    html = (UI_DIST / "index.html").read_text()
    names = re.findall(r'src="/assets/([^"]+\.js)"', html) + re.findall(r'href="/assets/([^"]+\.js)"', html)
    return sum(len(gzip.compress((UI_DIST / "assets" / n).read_bytes(), 9)) for n in set(names)) / 1024


def first_rows(stack: Stack, key: str, project: str, repeats: int) -> list[float]:
    """Seconds from navigating to the project's page until its first 50 rows show their names;
    each visit a fresh page (no answer cached in the page)."""
    from playwright.sync_api import sync_playwright

    out: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 2400})  # room for 50 rows
            page = context.new_page()
            page.goto(f"{stack.gateway_url}/signin")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Projects", exact=True).wait_for()
            url = f"{stack.gateway_url}/projects/{project}"
            rows = f"[role=grid] [role=row]:nth-child(n) .name-cell a >> nth={ROWS - 1}"
            for i in range(repeats + 1):
                fresh = context.new_page()
                started = time.perf_counter()
                fresh.goto(url)
                fresh.locator(rows).wait_for(timeout=60_000)
                if i:  # the first visit warms the gateway and the browser's caches of the scripts
                    out.append(time.perf_counter() - started)
                fresh.close()
        finally:
            browser.close()
    return out
