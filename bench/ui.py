"""The web UI's figures for ``make bench``, in Debian's Chromium with the page's own requests: how
long a project of many experiments takes to show its first 50 rows after navigation; how much
JavaScript the first page load brings, gzipped; how long a Scalars tab full of charts takes to
draw the charts in view; and how a chart of one long series opens and zooms."""

from __future__ import annotations

import gzip
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    out: list[float] = []
    with signed_in(stack, key, height=2400) as context:  # room for 50 rows
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
    return out


@contextmanager
def signed_in(stack: Stack, key: str, height: int = 900) -> Iterator[Any]:
    """A browser context of Debian's Chromium, signed in with ``key`` through the form."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": height})
            page = context.new_page()
            page.goto(f"{stack.gateway_url}/signin")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Projects", exact=True).wait_for()
            yield context
        finally:
            browser.close()


# Every chart frame in the window has drawn its chart (data-points set by the chart itself).
_DRAWN_IN_VIEW = """() => {
  const frames = [...document.querySelectorAll('.chart-frame')].filter((f) => {
    const r = f.getBoundingClientRect();
    return r.bottom > 0 && r.top < window.innerHeight;
  });
  return frames.length > 0 && frames.every((f) => Number(f.querySelector('.scalar-chart')?.dataset.points || 0) > 0);
}"""


def scalars_tab(stack: Stack, key: str, project: str, experiment: str, repeats: int) -> list[float]:
    """Seconds from navigating to an experiment's Scalars tab until every chart in the window is
    drawn (a fresh page each time)."""
    out: list[float] = []
    with signed_in(stack, key) as context:
        url = f"{stack.gateway_url}/projects/{project}?exp={experiment}&tab=scalars&full=1"
        for i in range(repeats + 1):
            page = context.new_page()
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_function(_DRAWN_IN_VIEW, timeout=60_000, polling="raf")
            if i:
                out.append(time.perf_counter() - started)
            page.close()
    return out


def long_series(stack: Stack, key: str, project: str, experiment: str, repeats: int) -> tuple[list[float], list[float]]:
    """A chart of one long series: seconds from navigating to its Scalars tab until the chart is
    drawn (interactive), and from the end of a drag over 6 pixels (about 1/200 of the series)
    until that range, read again from the server (its own buckets, or every point), is drawn."""
    opened: list[float] = []
    zoomed: list[float] = []
    with signed_in(stack, key) as context:
        url = f"{stack.gateway_url}/projects/{project}?exp={experiment}&tab=scalars&full=1&chart=variant"
        for i in range(repeats + 1):
            page = context.new_page()
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_function(_DRAWN_IN_VIEW, timeout=120_000, polling="raf")
            if i:
                opened.append(time.perf_counter() - started)
            chart = page.locator(".scalar-chart").first
            chart.evaluate("c => { c.dataset.xMaxAll = Number(c.dataset.xMax) - Number(c.dataset.xMin); }")
            box = chart.locator(".u-over").bounding_box()
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] * 0.5, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.5 + 6, y, steps=3)  # 6 px: a shorter drag is a click
            started = time.perf_counter()
            page.mouse.up()
            page.wait_for_function(  # the drawn data spans the range now: it came from the server
                "() => { const c = document.querySelector('.scalar-chart').dataset;"
                " return c.zoomed === 'true' && Number(c.xMax) - Number(c.xMin) < 0.05 * Number(c.xMaxAll); }",
                timeout=60_000, polling="raf",
            )  # fmt: skip
            if i:
                zoomed.append(time.perf_counter() - started)
            page.close()
    return opened, zoomed
