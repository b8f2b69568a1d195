"""``make screenshots``: the README's pictures, made from a seeded stack of its own (free ports,
a temporary data folder): the tour run and a small sweep, then the experiments table and an
experiment, the tour's Scalars and Plots tabs, Compare of the sweep's best runs and a report on
them photographed in Debian's Chromium into ``docs/images/``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import httpx

from devstack import Ports, Stack

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
KEY = "tl_screenshots"
SWEEP = textwrap.dedent(
    r"""
    import math, random, sys, tracklane
    random.seed(7)
    for i in range(24):
        lr = [0.1, 0.03, 0.01, 0.003][i % 4]
        batch = [32, 64, 128][i % 3]
        exp = tracklane.init(project="vision/resnet-sweep", name=f"resnet50 lr={lr} batch={batch}",
                             tags=(["baseline"] if i < 4 else ["sweep"]) + (["fp16"] if i % 3 == 0 else []),
                             monitor_interval=None, capture_console=False)
        exp.log_params({"lr": lr, "batch_size": batch, "optimizer": "sgd" if i % 2 else "adam"}, section="General")
        floor = 0.08 + abs(math.log10(lr) + 2) * 0.05 + random.random() * 0.04
        for step in range(0, 500, 10):
            loss = floor + 2.3 * math.exp(-step / (60 + batch))
            exp.log_scalar("loss", "train", loss * (1 + 0.05 * random.random()), iteration=step)
            exp.log_scalar("loss", "val", loss * 1.1, iteration=step)
            exp.log_scalar("accuracy", "val", 1 - loss / 2.5, iteration=step)
        exp.close(status="failed" if i == 5 else None)
    """
)


REPORT = """# Which learning rate?

The four best runs of the sweep, by their **best validation loss**: `lr=0.01` wins at both batch
sizes; the higher rates plateau early.

| run | best val loss |
|:----|--------------:|
{rows}

## Validation loss of the two best

<iframe src="{url}/widget/?objects={a}&objects={b}&type=scalar&metrics=loss&variants=val"
  width="100%" height="360"></iframe>

- [x] sweep lr and batch size
- [ ] rerun the best with 3 seeds
"""


def _report(stack: Stack, a: str, b: str) -> str:
    """A report on the sweep's two best runs, with their validation loss live in it; its id."""
    with httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {KEY}"}) as gw:
        params: dict[str, str | int] = {
            "project": "vision/resnet-sweep",
            "page_size": 4,
            "order_by": "metrics.loss/val.min",
        }
        best = gw.get("/api/v1/experiments", params=params).json()["experiments"]
        lows = [min(m["min"] for m in e["metrics"] if (m["metric"], m["variant"]) == ("loss", "val")) for e in best]
        rows = "\n".join(f"| {e['name']} | {low:.3f} |" for e, low in zip(best, lows, strict=True))
        body = REPORT.format(rows=rows, url=stack.gateway_url, a=a, b=b)
        created = gw.post("/api/v1/reports", json={"name": "ResNet sweep: which learning rate?", "project": "vision",
                                                   "description": "The sweep's best runs", "body": body})  # fmt: skip
        created.raise_for_status()
        return str(created.json()["id"])


def main() -> None:
    from playwright.sync_api import sync_playwright

    data = Path(tempfile.mkdtemp(prefix="tl-shots-"))
    stack = Stack(data, KEY, Ports.free())
    env = dict(os.environ, TRACKLANE_SERVER=stack.ingestion_addr, TRACKLANE_API_KEY=KEY,
               TRACKLANE_CACHE_DIR=str(data / "cache"), TRACKLANE_CONFIG_DIR=str(data / "config"))  # fmt: skip
    try:
        print("Starting a stack for the screenshots …", flush=True)
        stack.start()
        print("Seeding: a sweep of 24 runs and the tour …", flush=True)
        (data / "sweep.py").write_text(SWEEP)
        subprocess.run([sys.executable, str(data / "sweep.py")], env=env, check=True, cwd=data)
        tour = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "tour.py"), "--epochs", "3", "--steps", "60", "--sleep", "0"],
            env=env, check=True, cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        tour_id = tour.stdout.split("experiment ", 1)[1].split(":", 1)[0]
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                         args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
            page = browser.new_page(viewport={"width": 1400, "height": 820}, color_scheme="light")
            page.goto(f"{stack.gateway_url}/signin")
            page.get_by_label("API key").fill(KEY)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Projects", exact=True).wait_for()
            columns = ",".join([
                "attributes.status", "attributes.name", "attributes.tags", "attributes.started",
                "attributes.duration", "metrics.loss/val", "metrics.loss/val.min", "metrics.accuracy/val",
                "params.General/lr", "params.General/batch_size",
            ])  # fmt: skip
            page.goto(f"{stack.gateway_url}/projects/vision/resnet-sweep?order=metrics.loss/val.min&cols={columns}")
            page.get_by_role("grid").locator(".name-cell a").nth(15).wait_for()
            page.screenshot(path=str(OUT / "experiments-table.png"))
            page.get_by_role("grid").locator(".name-cell a").first.click()  # the best run, beside the table
            page.get_by_role("complementary").get_by_role("heading", name="Metrics").wait_for()
            page.screenshot(path=str(OUT / "experiment.png"))
            page.goto(f"{stack.gateway_url}/experiments/{tour_id}")  # the tour, full-screen
            page.get_by_role("tab", name="Execution").click()
            page.get_by_role("heading", name="Reproduce").wait_for()
            page.screenshot(path=str(OUT / "experiment-execution.png"))
            page.get_by_role("tab", name="Scalars").click()
            page.locator(".scalar-chart").nth(1).wait_for()
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / "scalars.png"))
            page.get_by_role("tab", name="Plots").click()
            page.locator(".plotly-view[data-state^=iteration]").nth(1).wait_for()
            page.screenshot(path=str(OUT / "plots.png"))
            best = httpx.get(
                f"{stack.gateway_url}/api/v1/experiments",
                params={"project": "vision/resnet-sweep", "order_by": "metrics.loss/val.min", "page_size": 4},
                headers={"Authorization": f"Bearer {KEY}"},
            ).json()["experiments"]
            page.goto(f"{stack.gateway_url}/compare?ids={','.join(e['id'] for e in best)}&metric=loss/val")
            page.locator(".scalar-chart").wait_for()
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / "compare.png"), full_page=True)
            report = _report(stack, best[0]["id"], best[1]["id"])
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.goto(f"{stack.gateway_url}/reports/{report}")
            page.locator("figure.report-widget iframe").content_frame.locator("body[data-state=drawn]").wait_for()
            page.get_by_label("Report (markdown)").evaluate("el => el.scrollTop = el.scrollHeight")
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / "report.png"))
            browser.close()
        print(f"Saved the screenshots in {OUT}")
    finally:
        stack.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
