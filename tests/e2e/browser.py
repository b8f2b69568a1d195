"""Debian's Chromium through Playwright for the web UI's tests: a browser, a page signed in
with a key, screenshots to ``test-screenshots/`` (looked at, not compared) and axe-core's
accessibility check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack import Stack
from tests.conftest import API_KEY
from tests.e2e.test_widget_browser import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-screenshots"
AXE = ROOT / "gateway" / "ui" / "node_modules" / "axe-core" / "axe.min.js"


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield browser
        finally:
            browser.close()


def signed_in(browser: Any, stack: Stack, key: str = API_KEY) -> Any:
    """A new page (its own cookies) signed in with ``key`` through the form."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(stack.gateway_url + "/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def accessible(page: Any, where: str) -> None:
    """axe-core's WCAG 2 A/AA rules: nothing serious or critical."""
    if not page.evaluate("() => 'axe' in window"):  # through the debugger: the page's CSP forbids inline scripts
        page.evaluate(AXE.read_text() + "\n;0")
    found = page.evaluate(
        """() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}).then(r => r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"""
    )
    assert found == [], f"{where}: {found}"
