"""The web UI in a real browser (Debian's Chromium through Playwright) against the stack: sign in
with the form, browse projects as cards and as a list, drill into a nested project, sign out.
Screenshots of each page go to ``test-screenshots/`` (looked at, not compared)."""

from __future__ import annotations

import httpx
import pytest

from devstack import Stack
from tests.conftest import API_KEY, new_id
from tests.e2e.browser import accessible, chromium, shot
from tests.e2e.helpers import gateway, open_experiment, wait_for
from tests.e2e.test_widget_browser import needs_chromium

pytestmark = [pytest.mark.engines, needs_chromium]


def test_pages_fall_back_to_the_app_and_the_api_stays_json(stack: Stack) -> None:
    with httpx.Client(base_url=stack.gateway_url) as anonymous:
        page = anonymous.get("/projects/anything")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp
        # reads only from this origin and the object store's signed links (not any site)
        connect = csp.split("connect-src ")[1].split(";")[0].split()
        assert connect[0] == "'self'" and all(o.startswith("http://127.0.0.1:") for o in connect[1:])
        assert page.headers["cache-control"] == "no-cache"
        script = next(part.split('"')[0] for part in page.text.split('src="')[1:] if part.startswith("/assets/"))
        asset = anonymous.get(script)
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        missing = anonymous.get("/api/v1/no-such-thing")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        wrong_method = anonymous.get("/api/v1/experiments/bulk")  # a POST-only API path is no page
        assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
        escaped = anonymous.get("/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd")  # no file outside dist/assets
        assert escaped.status_code == 404 and "root:" not in escaped.text


def test_sign_in_browse_projects_and_sign_out(stack: Stack) -> None:
    from playwright.sync_api import expect

    tag = new_id()[:6]
    for project in (f"ui-{tag}/vision/resnet", f"ui-{tag}/nlp"):
        open_experiment(stack, new_id(), project=project, name="run")
    with gateway(stack) as gw:
        wait_for("projects", lambda: gw.get("/api/v1/projects", params={"search": f"ui-{tag}"}).json()["total"] >= 4)
        gw.patch(f"/api/v1/projects/ui-{tag}", json={"description": "Experiments for the UI test"})

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(stack.gateway_url + "/")
        expect(page.get_by_role("heading", name="Sign in to Tracklane")).to_be_visible()
        shot(page, "signin")
        accessible(page, "the sign-in page")

        page.get_by_label("API key").fill("tl_wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("unknown or revoked API key")

        page.get_by_label("API key").fill(API_KEY)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["tl_session"]["httpOnly"] and cookies["tl_session"]["sameSite"] == "Lax"

        page.get_by_role("searchbox").fill(f"ui-{tag}")
        card = page.get_by_role("listitem").filter(has_text=f"ui-{tag}").first
        expect(card).to_contain_text("Experiments for the UI test")
        shot(page, "projects-cards")
        accessible(page, "the projects as cards")

        page.get_by_role("button", name="List").click()
        expect(page.get_by_role("table", name="Projects")).to_contain_text(f"ui-{tag}/vision/resnet")
        assert "view=list" in page.url  # the view state lives in the URL
        shot(page, "projects-list")
        page.emulate_media(color_scheme="dark")  # the dark theme follows the system
        shot(page, "projects-list-dark")
        accessible(page, "the projects as a list, dark")

        vision = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"ui-{tag}/vision", exact=True))
        vision.get_by_role("link", name="1 →").click()  # its subprojects; the name opens its experiments
        expect(page.get_by_role("navigation", name="Breadcrumbs")).to_contain_text("vision")
        expect(page.get_by_role("table", name="Projects")).to_contain_text(f"ui-{tag}/vision/resnet")

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("API key")).to_be_visible()
        assert "tl_session" not in {c["name"] for c in page.context.cookies()}

        with gateway(stack) as gw:  # a one-time link (make up prints one) signs in by itself
            link = gw.post("/api/v1/session/links").json()["url"]
        page.goto(link)
        expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
        assert "#link" not in page.url  # the token leaves the address bar
        assert not [e for e in errors if "401" not in e], errors  # a 401 before sign-in is expected
