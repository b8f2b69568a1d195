"""The experiment's Scalars and System tabs in a real browser against the stack. A series of
100,000 points with one spike and one dip: both stay inside the drawn min/max band at every
zoom level; a zoom fetches its range at full resolution and a double-click goes back;
smoothing changes the drawn line and keeps the raw one behind; the log scale drops what it
cannot draw; the legend hides a series; machine metrics chart in the System tab only. Charts
expose what they draw on data-* attributes, so the assertions are about data, not pixels."""

from __future__ import annotations

from typing import Any

import pytest

from devstack import Stack
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.browser import accessible, chromium, shot, signed_in
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, total_points, wait_for
from tests.e2e.test_widget_browser import needs_chromium

pytestmark = [pytest.mark.engines, needs_chromium]
N = 100_000
SPIKE_AT, SPIKE = 54_321, 100.0
DIP_AT, DIP = 77_777, -50.0


@pytest.fixture(scope="module")
def charted(stack: Stack) -> dict[str, Any]:
    experiment_id = new_id()
    project = f"charts-{new_id()[:6]}"
    open_experiment(stack, experiment_id, project=project, name="spiky")
    values = {SPIKE_AT: SPIKE, DIP_AT: DIP}
    train = [("loss", "train", i, values.get(i, 1.0 + (i % 7) * 0.01)) for i in range(N)]
    val = [("loss", "val", i, 2.0 - i / N) for i in range(0, N, 100)]
    monitor = [(":monitor:cpu", "usage %", i, 20.0 + i) for i in range(10)]
    events = [scalar_event(1, train[: N // 2]), scalar_event(2, train[N // 2 :] + val + monitor)]
    ingest(stack).Append(batch(experiment_id, *events), metadata=AUTH, timeout=60)
    with gateway(stack) as gw:
        wait_for("the points", lambda: total_points(gw, experiment_id, "loss", "train") == N, timeout=120)
        wait_for("the summaries", lambda: len(gw.get(f"/api/v1/experiments/{experiment_id}").json()["metrics"]) == 3)
    return {"id": experiment_id, "project": project}


def _chart(page: Any, title: str) -> Any:
    return page.get_by_role("region", name=f"Chart {title}", exact=True).locator(".scalar-chart")


def _attr(chart: Any, name: str) -> float:
    return float(chart.get_attribute(f"data-{name}"))


def _drag(page: Any, chart: Any, x_from: float, x_to: float) -> float:
    """Drags across the plot from one x value to another (the scale runs from the drawn x-min to
    x-max across the plotting area)."""
    lo, hi = _attr(chart, "x-min"), _attr(chart, "x-max")
    box = chart.locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * (x_from - lo) / (hi - lo), y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (x_to - lo) / (hi - lo), y, steps=8)
    page.mouse.up()
    return (hi - lo) / box["width"]  # x per pixel: how close the drag can come to the values


def _settled(chart: Any, lo: float, hi: float, pixel: float) -> None:
    """Waits until the chart draws the range [lo, hi] (give or take a few pixels of the drag, or
    a bucket)."""
    slack = max((hi - lo) * 0.02, 3 * pixel) + 1

    def drawn_over() -> bool | None:
        x_min, x_max = _attr(chart, "x-min"), _attr(chart, "x-max")
        seen.append((x_min, x_max))
        return lo - slack <= x_min <= lo + slack and hi - slack <= x_max <= hi + slack

    seen: list[tuple[float, float]] = []
    try:
        wait_for(f"the chart drawn over {lo:.0f}..{hi:.0f}", drawn_over, timeout=15)
    except AssertionError as missed:  # say what it drew instead
        raise AssertionError(f"{missed}; drawn over {seen[-1] if seen else None}") from None


def test_band_zoom_smoothing_log_and_system(stack: Stack, charted: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = signed_in(browser, stack)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{stack.gateway_url}/projects/{charted['project']}?exp={charted['id']}&tab=scalars&full=1")
        loss = _chart(page, "loss")
        expect(loss).to_have_attribute("data-series", "2")
        assert _attr(loss, "x-max") >= N - 1000
        # the whole run in buckets: the spike and the dip are inside the band
        assert _attr(loss, "band-max") == SPIKE and _attr(loss, "band-min") == DIP
        assert _attr(loss, "points") <= 2000  # buckets, not 100k points
        expect(page.get_by_role("region", name="Chart :monitor:cpu")).to_have_count(0)  # machine metrics apart
        expect(page.get_by_role("region", name="Chart cpu")).to_have_count(0)
        shot(page, "scalars-tab")
        accessible(page, "the scalars tab")

        # zoom around the spike, twice: buckets of the range, then every point; the spike stays
        pixel = _drag(page, loss, SPIKE_AT - 20_000, SPIKE_AT + 20_000)
        expect(loss).to_have_attribute("data-zoomed", "true")
        expect(page.get_by_role("region", name="Chart loss").get_by_text("zoomed: buckets")).to_be_visible()
        _settled(loss, SPIKE_AT - 20_000, SPIKE_AT + 20_000, pixel)
        assert _attr(loss, "band-max") == SPIKE and _attr(loss, "points") <= 2000
        pixel = _drag(page, loss, SPIKE_AT - 300, SPIKE_AT + 300)
        expect(page.get_by_role("region", name="Chart loss").get_by_text("zoomed: every point")).to_be_visible()
        _settled(loss, SPIKE_AT - 300, SPIKE_AT + 300, pixel)
        assert _attr(loss, "band-max") == SPIKE
        span = _attr(loss, "x-max") - _attr(loss, "x-min")
        assert span + 1 <= _attr(loss, "points") <= span + 20  # every iteration of the range, and val's few
        shot(page, "scalars-zoomed")
        loss.locator(".u-over").dblclick()
        expect(loss).to_have_attribute("data-zoomed", "false")
        _settled(loss, 0, N - 1, 0)
        expect(loss).to_have_attribute("data-band-min", str(int(DIP)))

        # a zoom around the dip, at a middle width: still buckets, the dip still inside
        pixel = _drag(page, loss, DIP_AT - 10_000, DIP_AT + 10_000)
        expect(loss).to_have_attribute("data-zoomed", "true")
        _settled(loss, DIP_AT - 10_000, DIP_AT + 10_000, pixel)
        assert _attr(loss, "band-min") == DIP and _attr(loss, "points") <= 2000
        page.get_by_role("region", name="Chart loss").get_by_role("button", name="Reset zoom").click()
        expect(loss).to_have_attribute("data-zoomed", "false")

        # smoothing: the drawn line changes, the raw one stays behind it
        before = loss.get_attribute("data-line")
        page.get_by_label("Smoothing weight").fill("0.9")
        expect(loss).to_have_attribute("data-smoothing", "0.9")
        assert loss.get_attribute("data-line") != before
        assert "raw" in (loss.get_attribute("data-layers") or "")
        assert "smooth=0.9" in page.url  # the options live in the URL
        shot(page, "scalars-smoothed")

        # the log scale leaves out what it cannot draw (the dip below zero)
        page.get_by_label("log scale").check()
        expect(loss).not_to_have_attribute("data-band-min", str(int(DIP)))
        assert _attr(loss, "band-min") > 0
        page.get_by_label("log scale").uncheck()

        # the legend hides a series, and the band follows what is shown
        legend = page.get_by_role("list", name="Series of loss")
        legend.get_by_role("button", name="train").click()
        expect(legend.get_by_role("button", name="train")).to_have_attribute("aria-pressed", "false")
        expect(loss).to_have_attribute("data-band-max", "2")  # val alone: from 2.0 down

        # the System tab has the machine metrics
        page.get_by_role("tab", name="System").click()
        cpu = _chart(page, "cpu")
        expect(cpu).to_have_attribute("data-series", "1")
        assert _attr(cpu, "band-max") == 29.0
        shot(page, "system-tab")
        accessible(page, "the system tab")
        assert not errors, errors


def test_runs_of_different_lengths_share_the_buckets_of_one_chart(stack: Stack, charted: dict[str, Any]) -> None:
    """Compare overlays the 100,000-point run with one of 60,000: both on one grid of buckets
    (the union of their extents), so the chart's x values are the longer run's buckets and the
    shorter run's are the first of them — not two grids interleaved (clearml#1266)."""
    from playwright.sync_api import expect

    shorter = new_id()
    open_experiment(stack, shorter, project=charted["project"], name="shorter")
    points = [("loss", "train", i, 0.5 + (i % 5) * 0.01) for i in range(60_000)]
    ingest(stack).Append(batch(shorter, scalar_event(1, points)), metadata=AUTH, timeout=60)
    with gateway(stack) as gw:
        wait_for("the shorter run", lambda: total_points(gw, shorter, "loss", "train") == 60_000, timeout=120)
        answer = gw.get(
            "/api/v1/compare", params={"ids": f"{charted['id']},{shorter}", "metric": "loss", "variant": "train"}
        )
        long_x, short_x = (s["x"] for s in answer.json()["scalars"])
        assert short_x == long_x[: len(short_x)] and 550 <= len(short_x) <= 650  # the first 60% of the buckets
    with chromium() as browser:
        page = signed_in(browser, stack)
        page.goto(f"{stack.gateway_url}/compare?ids={charted['id']},{shorter}&metric=loss/train")
        chart = page.get_by_role("region", name="loss/train").locator(".scalar-chart")
        expect(chart).to_have_attribute("data-series", "2")
        assert _attr(chart, "points") == len(long_x)  # one grid: the runs' x values coincide
        assert _attr(chart, "band-max") == SPIKE
        shot(page, "compare-shared-buckets")


def test_a_live_run_appends_its_new_points_without_reading_the_chart_again(stack: Stack) -> None:
    """While a run is live the Scalars tab asks only for the points after the last one it drew
    (x_min) and appends them; the whole range is read once."""
    from playwright.sync_api import expect

    experiment_id, project = new_id(), f"live-chart-{new_id()[:6]}"
    open_experiment(stack, experiment_id, project=project, name="live")
    first = [("loss", "train", i, 1.0 / (i + 1)) for i in range(100)]
    ingest(stack).Append(batch(experiment_id, scalar_event(1, first)), metadata=AUTH, timeout=30)
    with gateway(stack) as gw:
        wait_for("the first points", lambda: total_points(gw, experiment_id, "loss", "train") == 100)
    with chromium() as browser:
        page = signed_in(browser, stack)
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if f"{experiment_id}/scalars" in r.url else None)
        page.goto(f"{stack.gateway_url}/projects/{project}?exp={experiment_id}&tab=scalars&full=1")
        chart = _chart(page, "loss")
        expect(chart).to_have_attribute("data-points", "100")
        more = [("loss", "train", i, 0.5) for i in range(100, 160)]
        ingest(stack).Append(batch(experiment_id, scalar_event(2, more)), metadata=AUTH, timeout=30)
        expect(chart).to_have_attribute("data-points", "160", timeout=15_000)
        whole = [u for u in asked if "x_min" not in u]
        appended = [u for u in asked if "x_min=100" in u]
        assert len(whole) == 1 and appended, asked  # read once, then only what is new
        assert _attr(chart, "x-max") == 159
