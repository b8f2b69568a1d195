"""Project panels, saved views and Compare's sections, in a real browser against the stack: a
bar panel keyed by a hyperparameter shows one bar per value with its aggregation; the eye in a
row takes a run out of every panel; panels come back after a reload (they live in the URL);
parallel coordinates and a metric's line across runs draw what the runs logged; a saved view
comes back after a reload and in another browser context; Compare shows plots and debug
samples side by side and, for two runs, their diff. What is drawn is read from Plotly's own
data and the uPlot chart's data-* attributes."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from devstack import Stack
from tests.conftest import new_id
from tests.e2e.browser import accessible, chromium, shot, signed_in
from tests.e2e.helpers import gateway, wait_for
from tests.e2e.test_ui_experiments import RUNS, SEED, _env
from tests.e2e.test_widget_browser import needs_chromium

pytestmark = [pytest.mark.engines, needs_chromium]


@pytest.fixture(scope="module")
def project(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("panel-runs")
    name = f"panels-{new_id()[:6]}"
    (work / "seed.py").write_text(SEED)
    run = subprocess.run([sys.executable, "seed.py", json.dumps(RUNS), name], cwd=work, env=_env(stack, work),
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stderr
    with gateway(stack) as gw:
        wait_for(
            "the runs",
            lambda: (
                sum(
                    1
                    for r in gw.get("/api/v1/experiments", params={"project": name}).json()["experiments"]
                    if r["metrics"]
                )
                == len(RUNS)
            ),
            timeout=120,
        )
    return name


def _drawn(page: Any, panel: int) -> Any:
    figure = page.get_by_role("figure", name=f"Panel {panel} chart")
    return figure, lambda: figure.evaluate("el => el.data.map(t => ({x: t.x, y: t.y, name: t.name}))")


def test_panels_bar_by_hyperparameter_eye_reload_and_every_kind(stack: Stack, project: str) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = signed_in(browser, stack)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{stack.gateway_url}/projects/{project}")
        expect(page.get_by_role("grid", name="Experiments")).to_contain_text("charlie")

        page.get_by_role("button", name="+ Add panel").click()
        form = page.get_by_role("dialog", name="Add a panel")
        form.get_by_label("Kind").select_option("bar")
        form.get_by_label("Value").select_option("metrics.loss/train.min")
        form.get_by_label("Key by").select_option("params.General/lr")
        form.get_by_label("Aggregation").select_option("min")
        form.get_by_role("button", name="Add").click()
        bars, drawn = _drawn(page, 1)
        expect(bars).to_have_attribute("data-state", f"runs:{len(RUNS)}")
        [trace] = drawn()
        assert trace["x"] == ["0.001", "0.01", "0.1"]  # one bar per value of lr, in numeric order
        assert trace["y"] == pytest.approx([0.1, 0.2, 0.4])  # the lowest loss of each value's runs
        expect(page.get_by_role("region", name="Panel 1: min of loss/train (min) by lr (General)")).to_be_visible()

        page.get_by_role("button", name="Show charlie in the panels").click()  # the eye: out of the panels
        expect(bars).to_have_attribute("data-state", f"runs:{len(RUNS) - 1}")
        assert drawn()[0]["x"] == ["0.01", "0.1"]

        page.reload()  # the panels and the hidden run live in the URL
        bars, drawn = _drawn(page, 1)
        expect(bars).to_have_attribute("data-state", f"runs:{len(RUNS) - 1}")
        expect(page.get_by_role("button", name="Show charlie in the panels")).to_have_attribute("aria-pressed", "false")

        page.get_by_role("button", name="+ Add panel").click()
        form = page.get_by_role("dialog", name="Add a panel")
        form.get_by_label("Kind").select_option("line")
        form.get_by_label("Metric").select_option("metrics.loss/train")
        form.get_by_label("Smoothing").fill("0.5")
        form.get_by_role("button", name="Add").click()
        line = page.get_by_role("region", name="Panel 2: loss/train by iteration").locator(".scalar-chart")
        expect(line).to_have_attribute("data-series", str(len(RUNS) - 1))  # a line per run shown
        expect(line).to_have_attribute("data-smoothing", "0.5")

        page.get_by_role("button", name="+ Add panel").click()
        form = page.get_by_role("dialog", name="Add a panel")
        form.get_by_label("Kind").select_option("parcoords")
        form.get_by_role("group", name="Axes (hyperparameters)").get_by_label("lr (General)").check()
        form.get_by_role("group", name="Axes (hyperparameters)").get_by_label("batch (General)").check()
        form.get_by_label("Metric").select_option("metrics.loss/train.min")
        form.get_by_role("button", name="Add").click()
        par, par_drawn = _drawn(page, 3)
        expect(par).to_have_attribute("data-state", f"runs:{len(RUNS) - 1}")
        lines = par_drawn()
        assert len(lines) == len(RUNS) - 1 and all(len(t["y"]) == 3 for t in lines)
        assert all(v is None or 0 <= v <= 1 for t in lines for v in t["y"])

        page.get_by_role("button", name="Move panel 3 earlier").click()
        expect(
            page.get_by_role("region", name="Panel 2: batch (General), lr (General) → loss/train (min)")
        ).to_be_visible()
        page.get_by_role("button", name="Edit panel 1").click()
        form = page.get_by_role("dialog", name="Edit the panel")
        form.get_by_label("Aggregation").select_option("count")
        form.get_by_role("button", name="Save").click()
        bars, drawn = _drawn(page, 1)
        page.wait_for_function(
            "() => document.querySelector('[aria-label=\"Panel 1 chart\"]').data[0].y.join() === '2,2'"
        )
        page.get_by_label("Name runs by").select_option("id")
        shot(page, "project-panels")
        accessible(page, "the project panels")
        page.get_by_role("button", name="Remove panel 3").click()
        expect(page.get_by_role("region", name="Panel 3: loss/train by iteration")).to_have_count(0)
        assert errors == []


def test_a_saved_view_comes_back_after_a_reload_and_in_another_browser(stack: Stack, project: str) -> None:
    from urllib.parse import quote

    from playwright.sync_api import expect

    panels = quote(json.dumps([{"kind": "bar", "y": "metrics.loss/train.min", "x": "run", "agg": "avg"}]))
    with chromium() as browser:
        page = signed_in(browser, stack)
        page.goto(f"{stack.gateway_url}/projects/{project}?order=-metrics.loss/train&group=&panels={panels}")
        expect(page.get_by_role("figure", name="Panel 1 chart")).to_have_attribute("data-state", f"runs:{len(RUNS)}")
        page.get_by_role("button", name="Save as…").click()
        form = page.get_by_role("dialog", name="Save the view")
        form.get_by_label("Name").fill("worst first")
        form.get_by_label("the project's default view").check()
        form.get_by_role("button", name="Save").click()
        expect(form).to_be_hidden()
        views = page.get_by_role("group", name="Saved views")
        expect(views.get_by_role("combobox", name="Saved view")).to_have_value("worst first")
        assert "sv=worst" in page.url

        page.get_by_role("grid", name="Experiments").get_by_role("button", name="name", exact=True).click()
        expect(views.get_by_role("status")).to_have_text("unsaved changes")  # the change lives in the URL only
        views.get_by_role("button", name="Discard").click()
        expect(views.get_by_role("status")).to_have_count(0)
        assert "order=-metrics.loss" in page.url

        page.reload()
        expect(views.get_by_role("combobox", name="Saved view")).to_have_value("worst first")
        expect(page.get_by_role("figure", name="Panel 1 chart")).to_have_attribute("data-state", f"runs:{len(RUNS)}")
        shot(page, "saved-view")

        other = signed_in(browser, stack)  # another browser context: its own cookies, nothing in common but the server
        other.goto(f"{stack.gateway_url}/projects/{project}")  # a plain visit opens the default view
        expect(other.get_by_role("group", name="Saved views").get_by_role("combobox", name="Saved view")).to_have_value(
            "worst first"
        )
        expect(other.get_by_role("figure", name="Panel 1 chart")).to_be_visible()
        assert "order=-metrics.loss" in other.url
        first = other.get_by_role("grid", name="Experiments").locator(".name-cell a").first
        expect(first).to_have_text("alpha")  # the highest loss first

        views.get_by_role("button", name="Delete view").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(views.get_by_role("combobox", name="Saved view")).to_have_value("")
        accessible(page, "saved views")


PAIR = r"""
import json, sys
import numpy as np
import tracklane
ids = []
for name, lr in (("first", 0.1), ("second", 0.01)):
    with tracklane.init(project=sys.argv[1], name=name, capture_console=False, monitor_interval=None) as exp:
        exp.log_params({"lr": lr, "batch": 32}, section="General")
        for i in range(5):
            exp.log_scalar("loss", "loss", 1.0 / (i + 1) + lr, iteration=i)
        exp.log_confusion_matrix("conf", "val", [[9, 1], [2, 8]] if lr > 0.05 else [[7, 3], [1, 9]], labels=["a", "b"])
        for it in range(2):
            exp.log_image("pics", "grid", np.full((6, 6), (it + 1) / 3.0), iteration=it)
        ids.append(exp.id)
print(json.dumps(ids))
"""


def test_compare_plots_samples_parallel_coordinates_and_the_diff_of_two(stack: Stack, tmp_path: Any) -> None:
    from playwright.sync_api import expect

    (tmp_path / "pair.py").write_text(PAIR)
    run = subprocess.run([sys.executable, "pair.py", f"pair-{new_id()[:6]}"], cwd=tmp_path, env=_env(stack, tmp_path),
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stderr
    first, second = json.loads(run.stdout.strip().splitlines()[-1])
    with gateway(stack) as gw:
        for exp in (first, second):
            wait_for(
                "the samples",
                # 404 until the experiment is projected: not there yet
                lambda e=exp: len(gw.get(f"/api/v1/experiments/{e}/debug-samples").json().get("samples", [])) == 1,  # type: ignore[misc]
            )
    with chromium() as browser:
        page = signed_in(browser, stack)
        page.goto(f"{stack.gateway_url}/compare?ids={first},{second}&metric=loss/loss")
        diff = page.get_by_role("region", name="Diff from first (\u2212) to second (+)")
        hyper = diff.get_by_label("Hyperparameters: diff")
        expect(hyper).to_contain_text("- General/lr = 0.1")
        expect(hyper).to_contain_text("+ General/lr = 0.01")
        expect(hyper.locator(".diff-del")).to_have_count(1)
        expect(diff.get_by_label("Metrics (last): diff")).to_contain_text("+ loss/loss = 0.21")

        parallel = page.get_by_role("figure", name="Hyperparameters against loss/loss")
        expect(parallel).to_have_attribute("data-state", "axes:1")  # lr: the one that differs
        lines = parallel.evaluate("el => el.data.map(t => t.y)")
        assert sorted(lines) == [[0, 0], [1, 1]]  # the lower lr has the lower loss

        for name, matrix in (("first", [[9, 1], [2, 8]]), ("second", [[7, 3], [1, 9]])):
            plot = page.get_by_role("figure", name=f"conf / val of {name}, iteration 0")
            expect(plot).to_have_attribute("data-state", "iteration:0")
            assert plot.evaluate("el => el.data[0].z") == matrix

        samples = page.get_by_role("region", name="Debug samples")
        for name in ("first", "second"):
            expect(samples.get_by_role("group", name=f"pics / grid of {name}")).to_have_attribute("data-iteration", "1")
        samples.get_by_role("button", name="Previous iteration of every run").click()
        for name in ("first", "second"):
            expect(samples.get_by_role("group", name=f"pics / grid of {name}")).to_have_attribute("data-iteration", "0")
        shot(page, "compare-two")
        accessible(page, "compare with its diff, plots and samples")
