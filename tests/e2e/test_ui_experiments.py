"""The experiments pages in a real browser against the stack: the table (filter with completion
and errors, sort, columns, quick filters, group by, bulk tag and archive), one experiment's
tabs (info, execution, configuration edits and the published refusal, artifacts, console with
search), stopping a live run from its button, the settings page (keys created, rotated and
revoked), a viewer's read-only view and an anonymous reader of a public project. Each page is
screenshotted to ``test-screenshots/`` and checked with axe-core (no serious or critical
accessibility violation)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import Stack
from tests.conftest import API_KEY, new_id
from tests.e2e.browser import ROOT, accessible, chromium, shot, signed_in
from tests.e2e.helpers import gateway, wait_for
from tests.e2e.test_widget_browser import needs_chromium

pytestmark = [pytest.mark.engines, needs_chromium]

# name: (lr, final train loss, tags)
RUNS = {
    "alpha": (0.1, 0.50, ["baseline"]),
    "bravo": (0.01, 0.20, ["sweep"]),
    "charlie": (0.001, 0.10, ["sweep", "best"]),
    "delta": (0.1, 0.40, ["sweep"]),
    "echo-with-a-name-long-enough-to-need-an-ellipsis-in-its-column-of-the-table": (0.01, 0.30, []),
}

SEED = textwrap.dedent(
    r"""
    import json, sys, tracklane
    runs = json.loads(sys.argv[1])
    project = sys.argv[2]
    for name, (lr, loss, tags) in runs.items():
        exp = tracklane.init(project=project, name=name, tags=tags, monitor_interval=None)
        exp.log_params({"lr": lr, "batch": 32}, section="General")
        exp.set_user_properties(team="vision")
        for i in range(4):
            exp.log_scalar("loss", "train", loss + (3 - i) * 0.1, iteration=i)
        print(f"training {name}: step 1 of 2")
        print(f"a warning about {name}", file=sys.stderr)
        exp.upload_artifact("summary", {"loss": loss}, metadata={"split": "val"})
        exp.close()
    """
)
LIVE = textwrap.dedent(
    r"""
    import sys, time, tracklane
    exp = tracklane.init(project=sys.argv[1], name="live", monitor_interval=None)
    print("ID", exp.id, flush=True)
    try:
        for i in range(1200):
            exp.log_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
            time.sleep(0.1)
    except tracklane.InterruptedExperiment:
        print("stopped from the web", flush=True)
    exp.close()
    """
)


def _env(stack: Stack, work: Path) -> dict[str, str]:
    return dict(os.environ, TRACKLANE_SERVER=stack.ingestion_addr, TRACKLANE_API_KEY=API_KEY,
                TRACKLANE_CACHE_DIR=str(work / "cache"), TRACKLANE_CONFIG_DIR=str(work / "config"))  # fmt: skip


@pytest.fixture(scope="module")
def seeded(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import json

    work = tmp_path_factory.mktemp("ui-runs")
    project = f"uit-{new_id()[:6]}/sweep"
    (work / "seed.py").write_text(SEED)
    (work / "live.py").write_text(LIVE)
    env = _env(stack, work)
    run = subprocess.run([sys.executable, "seed.py", json.dumps(RUNS), project], cwd=work, env=env,
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stderr
    live = subprocess.Popen([sys.executable, "live.py", project], cwd=work, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout is not None
        live_id = live.stdout.readline().split()[-1]
        with gateway(stack) as gw:

            def ready() -> dict[str, str] | None:
                page = gw.get("/api/v1/experiments", params={"project": project, "page_size": 50}).json()
                rows = page["experiments"]
                done = [r for r in rows if r["status"] == "completed" and r["metrics"]]
                return {r["name"]: r["id"] for r in rows} if len(done) == len(RUNS) and len(rows) == 6 else None

            ids = wait_for("the seeded runs", ready, timeout=120)
            published = ids["delta"]
            assert gw.post(f"/api/v1/experiments/{published}/publish").status_code in (200, 202)
            wait_for("delta published", lambda: gw.get(f"/api/v1/experiments/{published}").json()["published"])
        yield {"project": project, "ids": ids, "live": live_id, "process": live}
    finally:
        live.kill()
        live.communicate()


def _project_url(stack: Stack, project: str, query: str = "") -> str:
    return f"{stack.gateway_url}/projects/{project}{'?' + query if query else ''}"


def test_table_filter_sort_columns_group_and_bulk(stack: Stack, seeded: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    project, ids = seeded["project"], seeded["ids"]
    with chromium() as browser:
        page = signed_in(browser, stack)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(_project_url(stack, project))
        grid = page.get_by_role("grid", name="Experiments")
        expect(grid).to_have_attribute("data-total", "6")
        expect(grid).to_contain_text("charlie")
        shot(page, "experiments-table")
        accessible(page, "the table")

        # the filter: completion of identifiers, then the server's answer
        box = page.get_by_role("combobox", name="Filter")
        box.fill("metrics.loss/tr")
        expect(
            page.get_by_role("listbox", name="Completions").get_by_role("option", name="metrics.loss/train", exact=True)
        ).to_be_visible()
        shot(page, "experiments-filter-completion")
        box.press("Tab")
        expect(box).to_have_value("metrics.loss/train ")  # taken, with a space to go on
        box.press_sequentially("< 0.35")
        page.get_by_role("button", name="Apply").click()
        expect(grid).to_have_attribute("data-total", "4")  # bravo, charlie, echo and the live run
        assert "filter=metrics.loss" in page.url  # the view is in the URL
        expect(grid).not_to_contain_text("alpha")

        # a mistake is shown where it is
        box.fill("metrics.loss/train <<< 1")
        page.get_by_role("button", name="Apply").click()
        alert = page.locator(".filter-error")
        expect(alert).to_contain_text("position")
        expect(alert.locator("mark")).to_be_visible()
        shot(page, "experiments-filter-error")
        page.get_by_role("button", name="Clear").click()
        expect(grid).to_have_attribute("data-total", "6")

        # sort by name, both ways
        page.get_by_role("button", name="name", exact=True).click()
        expect(page.get_by_role("columnheader", name="name")).to_have_attribute("aria-sort", "ascending")
        expect(page.get_by_role("row").nth(1)).to_contain_text("alpha")
        page.get_by_role("button", name="name", exact=True).click()
        expect(page.get_by_role("columnheader", name="name")).to_have_attribute("aria-sort", "descending")
        expect(page.get_by_role("row").nth(1)).to_contain_text("live")

        # a metric column from the chooser, then sort by it
        page.get_by_role("button", name="Columns").click()
        chooser = page.get_by_role("dialog", name="Columns")
        chooser.get_by_role("searchbox").fill("loss")
        chooser.locator(".metric-choice").filter(has_text="loss/train").get_by_label("last").check()
        chooser.get_by_role("searchbox").fill("lr")
        chooser.get_by_label("lr (General)").check()
        shot(page, "experiments-columns")
        chooser.get_by_role("button", name="Done").click()
        header = page.get_by_role("columnheader", name="loss/train")
        expect(header).to_be_visible()
        expect(page.get_by_role("columnheader", name="lr (General)")).to_be_visible()
        header.get_by_role("button").click()
        header.get_by_role("button").click()
        expect(header).to_have_attribute("aria-sort", "descending")
        expect(page.get_by_role("row").nth(1)).to_contain_text("alpha")  # the highest final loss first
        assert "cols=" in page.url

        # quick filter by tag, then group by status with counts
        page.get_by_label("Tag", exact=True).select_option("sweep")
        expect(grid).to_have_attribute("data-total", "3")
        page.get_by_role("button", name="Reset quick filters").click()
        page.get_by_label("Group by").select_option("attributes.status")
        groups = page.get_by_label("Grouped by attributes.status")
        expect(groups).to_contain_text("completed")
        expect(groups.locator("summary").filter(has_text="completed")).to_contain_text("5")
        expect(groups.locator("summary").filter(has_text="running")).to_contain_text("1")
        shot(page, "experiments-grouped")
        page.get_by_label("Group by").select_option("")

        # bulk: tag two runs, then archive them
        page.get_by_label("Select alpha", exact=True).click()
        page.get_by_label("Select bravo", exact=True).click()
        bar = page.get_by_role("toolbar", name="Bulk actions")
        expect(bar).to_contain_text("2 experiments selected")
        bar.get_by_role("button", name="Tags…").click()
        page.get_by_label("Add tags (comma-separated)").fill("picked")
        page.get_by_role("dialog").get_by_role("button", name="Tags…").click()
        with gateway(stack) as gw:
            for name in ("alpha", "bravo"):
                wait_for(
                    f"{name} tagged",
                    lambda n=name: "picked" in gw.get(f"/api/v1/experiments/{ids[n]}").json()["tags"],
                )
        expect(page.get_by_role("status").filter(has_text="Tagging 2 experiments done")).to_be_visible()
        expect(bar).to_be_hidden()  # the selection is cleared once the action is done
        page.get_by_label("Select alpha", exact=True).click()
        page.get_by_label("Select bravo", exact=True).click()
        bar.get_by_role("button", name="Archive").click()
        expect(grid).to_have_attribute("data-total", "4")
        expect(bar).to_be_hidden()

        # move one to a project that does not exist yet
        moved = project.replace("/sweep", "/moved")
        page.get_by_label("Select charlie", exact=True).click()
        bar.get_by_role("button", name="Move…").click()
        page.get_by_label("To the project (created if it does not exist)").fill(moved)
        page.get_by_role("dialog").get_by_role("button", name="Move…").click()
        expect(grid).to_have_attribute("data-total", "3")
        with gateway(stack) as gw:
            assert gw.get(f"/api/v1/experiments/{ids['charlie']}").json()["project"] == moved
            gw.post(f"/api/v1/experiments/{ids['charlie']}/move", json={"project": project})  # back, for the next tests
            wait_for(
                "charlie back", lambda: gw.get(f"/api/v1/experiments/{ids['charlie']}").json()["project"] == project
            )
        page.get_by_role("group", name="Which experiments").get_by_role("button", name="Archive").click()
        expect(grid).to_contain_text("alpha")
        shot(page, "experiments-archive")
        assert not errors, errors


def test_one_experiment_tabs_edits_and_stop(stack: Stack, seeded: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    project, ids = seeded["project"], seeded["ids"]
    with chromium() as browser:
        page = signed_in(browser, stack)
        page.goto(_project_url(stack, project))
        page.get_by_role("link", name="charlie").click()
        panel = page.get_by_role("complementary")
        expect(panel.get_by_role("heading", name="charlie")).to_be_visible()
        expect(panel.get_by_role("tab", name="Info")).to_have_attribute("aria-selected", "true")
        expect(panel).to_contain_text("loss")
        shot(page, "experiment-info")
        accessible(page, "the info tab")

        panel.get_by_role("tab", name="Configuration").click()
        assert "tab=configuration" in page.url
        general = panel.get_by_role("region", name="General", exact=True)
        expect(general).to_contain_text("0.001")
        general.get_by_role("button", name="Edit").click()
        general.get_by_label("Value of lr").fill("0.002")
        general.get_by_role("button", name="Save").click()
        with gateway(stack) as gw:

            def lr() -> str:
                sections = gw.get(f"/api/v1/experiments/{ids['charlie']}/configuration").json()["hyperparameters"]
                return next(
                    p["value"] for s in sections if s["section"] == "General" for p in s["params"] if p["name"] == "lr"
                )

            wait_for("the edited lr", lambda: lr() == "0.002")
        expect(general).to_contain_text("0.002")
        shot(page, "experiment-configuration")

        panel.get_by_role("tab", name="Console").click()
        log = panel.get_by_role("log", name="Console output")
        expect(log).to_contain_text("training charlie")
        expect(log.locator(".stderr")).to_contain_text("a warning about charlie")
        panel.get_by_label("Search", exact=True).fill("warning")
        panel.get_by_role("button", name="Find").click()
        expect(panel).to_contain_text("1 of 1 matching lines")
        shot(page, "experiment-console")

        panel.get_by_role("tab", name="Artifacts").click()
        expect(panel).to_contain_text("summary")
        panel.get_by_role("button", name="Preview").click()
        expect(panel.get_by_label("Preview of summary")).to_contain_text("loss")
        expect(panel.get_by_role("link", name="Download")).to_have_attribute("href", re.compile(r"^https?://|^/"))
        shot(page, "experiment-artifacts")

        panel.get_by_role("tab", name="Execution").click()
        expect(panel).to_contain_text("Python")
        shot(page, "experiment-execution")

        # a published run is read-only, and says why
        page.goto(_project_url(stack, project, f"exp={ids['delta']}&tab=configuration"))
        panel = page.get_by_role("complementary")
        expect(panel).to_contain_text("Published experiments are read-only")
        expect(
            panel.get_by_role("region", name="General", exact=True).get_by_role("button", name="Edit")
        ).to_be_disabled()

        # stop the live run from its button
        page.goto(f"{stack.gateway_url}/experiments/{seeded['live']}")
        panel = page.get_by_role("complementary")
        expect(panel.get_by_role("button", name="Stop", exact=True)).to_be_enabled()
        assert "full=1" in page.url
        shot(page, "experiment-running")
        panel.get_by_role("button", name="Stop", exact=True).click()
        page.get_by_role("dialog").get_by_role("button", name="Stop the run").click()
        with gateway(stack) as gw:
            wait_for(
                "the live run stopped",
                lambda: gw.get(f"/api/v1/experiments/{seeded['live']}").json()["status"] == "stopped",
            )
        expect(panel.locator(".status")).to_have_text("stopped", timeout=15000)
        out, _ = seeded["process"].communicate(timeout=60)
        assert "stopped from the web" in out


def test_settings_keys_viewer_and_anonymous(stack: Stack, seeded: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    project = seeded["project"]
    top = project.split("/")[0]
    with chromium() as browser:
        page = signed_in(browser, stack)
        page.get_by_role("link", name="Settings").click()
        expect(page.get_by_role("heading", name="Settings")).to_be_visible()
        keys = page.get_by_role("region", name="API keys")
        keys.get_by_label("Name", exact=True).fill("ui-made")
        keys.get_by_role("combobox").select_option("viewer")
        keys.get_by_role("button", name="Create key").click()
        secret = page.get_by_test_id("new-secret")
        expect(secret).to_contain_text("tl_")
        first = secret.inner_text().strip()
        shot(page, "settings-new-key")
        page.get_by_role("button", name="I have copied it").click()
        with gateway(stack, first) as gw:
            wait_for("the new key", lambda: gw.get("/api/v1/session").status_code == 200)
            assert gw.get("/api/v1/session").json()["role"] == "viewer"
        row = keys.get_by_role("row").filter(has_text="ui-made")
        expect(row).to_be_visible()
        accessible(page, "settings")

        row.get_by_role("button", name="Rotate").click()
        page.get_by_role("dialog").get_by_role("button", name="Rotate").click()
        expect(secret).not_to_have_text(first)
        second = secret.inner_text().strip()
        page.get_by_role("button", name="I have copied it").click()
        with gateway(stack, first) as old, gateway(stack, second) as new:
            wait_for("the old secret refused", lambda: old.get("/api/v1/session").status_code == 401)
            wait_for("the new secret", lambda: new.get("/api/v1/session").status_code == 200)

        # the viewer: everything readable, nothing changeable, and the reason on the controls
        viewer = signed_in(browser, stack, second)
        viewer.goto(_project_url(stack, project, f"exp={seeded['ids']['charlie']}"))
        panel = viewer.get_by_role("complementary")
        expect(panel.get_by_role("button", name="Rename")).to_be_disabled()
        expect(panel.get_by_role("button", name="Archive", exact=True)).to_be_disabled()
        assert "viewer" in (panel.get_by_role("button", name="Archive", exact=True).get_attribute("title") or "")
        viewer.get_by_label("Select charlie", exact=True).click()
        expect(
            viewer.get_by_role("toolbar", name="Bulk actions").get_by_role("button", name="Archive")
        ).to_be_disabled()
        shot(viewer, "viewer-read-only")
        viewer.close()

        row.get_by_role("button", name="Revoke").click()
        page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
        expect(row).to_contain_text("revoked")
        with gateway(stack, second) as gw:
            wait_for("the revoked key refused", lambda: gw.get("/api/v1/session").status_code == 401)

        # anonymous: a public project's experiments without signing in, read-only
        with gateway(stack) as gw:
            assert gw.patch(f"/api/v1/projects/{top}", json={"public": True}).status_code in (200, 202)
            assert gw.patch(f"/api/v1/projects/{project}", json={"public": True}).status_code in (200, 202)
        anonymous = browser.new_page(viewport={"width": 1400, "height": 900})
        anonymous.goto(f"{stack.gateway_url}/?workspace=default&search={top}")
        expect(anonymous.locator(".who")).to_contain_text("read-only")
        expect(anonymous.get_by_role("listitem").filter(has_text="sweep").first).to_be_visible()
        anonymous.goto(_project_url(stack, project, "workspace=default"))
        grid = anonymous.get_by_role("grid", name="Experiments")
        expect(grid).to_contain_text("charlie")
        anonymous.get_by_role("link", name="charlie").click()
        expect(anonymous.get_by_role("complementary").get_by_role("button", name="Rename")).to_be_disabled()
        expect(anonymous.get_by_role("button", name="Sign in")).to_be_visible()
        shot(anonymous, "anonymous-public-project")
        with httpx.Client(base_url=stack.gateway_url) as nobody:  # and nothing private leaks
            listed = nobody.get("/api/v1/projects", params={"workspace": "default"}).json()["projects"]
            assert all(p["public"] for p in listed)


def test_the_tour_run_in_every_tab(stack: Stack, tmp_path: Path) -> None:
    """examples/tour.py, as a newcomer runs it, then each tab shows what it logged."""
    from playwright.sync_api import expect

    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tour.py"), "--epochs", "2", "--steps", "20", "--sleep", "0"],
        cwd=ROOT, env=_env(stack, tmp_path), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    experiment_id = run.stdout.split("experiment ", 1)[1].split(":", 1)[0]
    with gateway(stack) as gw:
        wait_for(
            "the tour run with its files",
            lambda: (
                gw.get(f"/api/v1/experiments/{experiment_id}").json()["status"] == "completed"
                and len(gw.get(f"/api/v1/experiments/{experiment_id}/models").json()["models"]) == 1
            ),
        )
    with chromium() as browser:
        page = signed_in(browser, stack)
        page.goto(f"{stack.gateway_url}/experiments/{experiment_id}")
        panel = page.get_by_role("complementary")
        expect(panel.get_by_role("heading", name="everything")).to_be_visible()
        expect(panel.get_by_label("Tags")).to_contain_text("example")
        expect(panel).to_contain_text("accuracy")  # the metrics' last / min / max
        expect(panel).to_contain_text("validation")

        checks = {
            "Scalars": ["loss", "accuracy", "validation"],
            "Execution": ["examples/tour.py", "Reproduce", "numpy"],
            "Configuration": ["epochs", "batch_size", "relu", "flip", "mnist-like"],
            "Artifacts": ["classifier", "notes", "metrics", "SHA-256"],
            "Console": ["validation loss"],
        }
        for tab, texts in checks.items():
            panel.get_by_role("tab", name=tab).click()
            for text in texts:
                expect(panel.get_by_role("tabpanel")).to_contain_text(text)
            shot(page, f"tour-{tab.lower()}")
            accessible(page, f"the tour's {tab} tab")
        panel.get_by_role("tab", name="Plots").click()  # each kind drawn; what is drawn read from plotly's own data
        for title in ("weights", "roc", "confusion", "per class"):
            expect(panel.get_by_role("region", name=f"Plots titled {title}")).to_be_visible()
        drawn = "el => el.data.map(t => ({type: t.type, z: t.z, text: t.text, name: t.name}))"
        expect(panel.get_by_role("button", name="Share chart...")).to_have_count(0)  # nothing goes to plotly's cloud
        card = panel.get_by_role("region", name="Plot weights / layer1")
        card.scroll_into_view_if_needed()  # plots mount as they come near the view
        weights = panel.get_by_role("figure", name="weights / layer1, iteration 1")
        expect(weights).to_have_attribute("data-state", "iteration:1")
        assert weights.evaluate(drawn)[0]["type"] == "bar"
        card.get_by_label("Iteration of weights / layer1", exact=True).select_option("0")
        at0 = panel.get_by_role("figure", name="weights / layer1, iteration 0")
        expect(at0).to_have_attribute("data-state", "iteration:0")
        card.get_by_label("over time (3-D)").check()
        ridges = panel.get_by_role("figure", name="weights / layer1, over time")
        expect(ridges).to_have_attribute("data-state", "history:2")
        assert [t["name"] for t in ridges.evaluate(drawn)] == ["iteration 0", "iteration 1"]  # steps in depth
        confusion = panel.get_by_role("figure", name="confusion / validation, iteration 0")
        expect(confusion).to_have_attribute("data-state", "iteration:0")
        assert confusion.evaluate(drawn)[0]["z"][0] == [50, 3, 1]
        panel.get_by_role("region", name="Plot confusion / validation").get_by_label("Show").select_option("row")
        expect(confusion).to_have_attribute("data-state", "iteration:0")
        page.wait_for_function(
            "() => document.querySelector('[aria-label=\"confusion / validation, iteration 0\"]').data[0].zmax === 100"
        )
        by_row = confusion.evaluate(drawn)[0]
        assert abs(by_row["z"][0][0] - 100 * 50 / 54) < 1e-9 and by_row["text"][0][0].startswith("92.6%")
        panel.get_by_role("region", name="Plot roc / validation").scroll_into_view_if_needed()
        roc = panel.get_by_role("figure", name="roc / validation, iteration 0")
        expect(roc).to_have_attribute("data-state", "iteration:0")
        assert roc.evaluate(drawn)[0]["type"] == "scatter"
        panel.get_by_role("region", name="Plot per class / validation").scroll_into_view_if_needed()
        table = panel.get_by_role("region", name="Table per class / validation")
        expect(table).to_contain_text("precision")
        expect(table.get_by_role("row").nth(1)).to_contain_text("0.93")
        shot(page, "tour-plots")
        accessible(page, "the tour's Plots tab")

        panel.get_by_role("tab", name="Debug samples").click()  # the latest sample, and every stored one
        digit = panel.get_by_role("listitem", name="predictions / digit")
        expect(digit).to_have_attribute("data-iteration", "1")
        digit.get_by_role("button", name="Previous iteration").click()
        expect(digit).to_have_attribute("data-iteration", "0")
        expect(digit.get_by_role("status")).to_contain_text("Paused on iteration 0")
        digit.get_by_label("Jump to an iteration of predictions / digit").fill("1")
        digit.get_by_role("button", name="Go").click()
        expect(digit).to_have_attribute("data-iteration", "1")
        digit.get_by_role("slider", name="Iteration of predictions / digit").fill("0")
        expect(digit).to_have_attribute("data-iteration", "0")
        digit.get_by_label("Jump to an iteration of predictions / digit").fill("7")
        digit.get_by_role("button", name="Go").click()
        expect(digit.get_by_role("alert")).to_contain_text("No sample at iteration 7")
        expect(digit).to_have_attribute("data-iteration", "0")  # the shown one stays
        digit.get_by_role("button", name="Open predictions / digit at iteration 0").click()
        viewer = page.get_by_role("dialog", name="predictions / digit, iteration 0")
        viewer.get_by_role("button", name="Zoom in").click()
        expect(viewer.get_by_test_id("pixel")).to_contain_text("150%")
        box = viewer.get_by_role("img", name="The sample, zoomable").bounding_box()  # zoomed past the window's edges
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 10.5 / 28, box["y"] + box["height"] * 20.5 / 28)
        expect(viewer.get_by_test_id("pixel")).to_contain_text("28\u00d728 px · x 10, y 20")
        shot(page, "tour-debug-sample-viewer")
        viewer.get_by_role("button", name="Close").click()
        tone = panel.get_by_role("listitem", name="sound / tone")
        expect(tone.get_by_role("img", name="Waveform")).to_have_attribute("data-state", "drawn")
        played = tone.locator("audio").evaluate(
            "a => a.play().then(() => new Promise(r => setTimeout(r, 400))).then(() => a.currentTime)"
        )
        assert played > 0, "the audio plays"
        summary = panel.get_by_role("listitem", name="report / summary")
        expect(summary.locator("iframe")).to_have_attribute("sandbox", "")
        find = panel.get_by_role("group", name="Find samples")  # every card at one iteration
        find.get_by_label("At iteration").fill("1")
        find.get_by_role("button", name="Show").click()
        expect(digit).to_have_attribute("data-iteration", "1")
        expect(tone.get_by_role("alert")).to_contain_text("No sample at iteration 1")
        find.get_by_role("button", name="Latest").click()
        expect(tone.get_by_role("alert")).to_have_count(0)
        shot(page, "tour-debug-samples")
        accessible(page, "the tour's Debug samples tab")
        panel.get_by_role("tab", name="Configuration").click()
        expect(panel.get_by_role("region", name="Args", exact=True)).to_contain_text("20")  # --steps
        panel.get_by_role("tab", name="Artifacts").click()
        notes = panel.get_by_role("listitem").filter(has_text="notes")
        notes.get_by_role("button", name="Preview").click()
        expect(panel.get_by_label("Preview of notes")).to_contain_text("Everything went fine")
        page.keyboard.press("Home")  # the tabs take arrows, Home and End
        page.get_by_role("tab", name="Artifacts").focus()
        page.keyboard.press("ArrowRight")
        expect(panel.get_by_role("tab", name="Console")).to_have_attribute("aria-selected", "true")
        page.emulate_media(color_scheme="dark")
        shot(page, "tour-console-dark")
        accessible(page, "the dark theme")


def test_live_rows_the_connection_banner_and_an_ended_session(stack: Stack, seeded: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    from tests.e2e.helpers import open_experiment

    project = seeded["project"]
    with gateway(stack) as gw:
        made = gw.post("/api/v1/keys", json={"name": "ui-live", "role": "member"}).json()
        wait_for("the key", lambda: gw.get("/api/v1/keys").json()["keys"] and any(
            k["id"] == made["id"] for k in gw.get("/api/v1/keys").json()["keys"]))  # fmt: skip
    with chromium() as browser:
        page = signed_in(browser, stack, made["key"])
        page.goto(_project_url(stack, project))
        grid = page.get_by_role("grid", name="Experiments")
        expect(grid).to_contain_text("charlie")

        # a new experiment shows up without a reload
        open_experiment(stack, new_id(), project=project, name="arrived-live")
        expect(grid).to_contain_text("arrived-live", timeout=15000)

        # the gateway out of reach: a banner, gone by itself once it answers again
        page.route("**/api/v1/**", lambda route: route.abort())
        banner = page.get_by_role("alert").filter(has_text="cannot be reached")
        expect(banner).to_be_visible(timeout=10000)
        shot(page, "connection-lost")
        page.unroute("**/api/v1/**")
        expect(banner).to_be_hidden(timeout=10000)

        # the key behind the session revoked: the page says so and leads to the sign-in
        with gateway(stack) as gw:
            assert gw.post(f"/api/v1/keys/{made['id']}/revoke").status_code in (200, 202)
        ended = page.get_by_role("alert").filter(has_text="Your session ended")
        expect(ended).to_be_visible(timeout=15000)
        ended.get_by_role("button", name="Sign in again").click()
        expect(page.get_by_label("API key")).to_be_visible()
        assert "next=" in page.url


def test_compare_marks_differences_and_the_best(stack: Stack, seeded: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    project = seeded["project"]
    with chromium() as browser:
        page = signed_in(browser, stack)
        page.goto(_project_url(stack, project))
        for name in ("charlie", "delta"):
            page.get_by_label(f"Select {name}", exact=True).click()
        page.get_by_role("toolbar", name="Bulk actions").get_by_role("button", name="Compare").click()
        expect(page.get_by_role("heading", name="Compare 2 experiments")).to_be_visible()
        assert "/compare?ids=" in page.url

        metrics = page.get_by_role("table", name="Metrics compared")
        loss = metrics.get_by_role("row").filter(has_text="loss/train")
        expect(loss.locator("td.best")).to_have_count(1)  # charlie's 0.1 beats delta's 0.4
        expect(loss.locator("td.best")).to_contain_text("0.1")
        chart = page.locator(".compare .scalar-chart")
        expect(chart).to_have_attribute("data-series", "2")  # the two runs overlaid

        hyper = page.get_by_role("table", name="Hyperparameters compared")
        expect(hyper.get_by_role("row").filter(has_text="General/lr")).to_have_attribute("data-differs", "true")
        expect(hyper.get_by_role("row").filter(has_text="General/batch")).to_have_count(0)  # the same: hidden
        page.get_by_label("only differences").uncheck()
        expect(hyper.get_by_role("row").filter(has_text="General/batch")).to_have_attribute("data-differs", "false")
        shot(page, "compare")
        accessible(page, "compare")
