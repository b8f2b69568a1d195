"""Reports and notes in a real browser (Debian's Chromium) against the real stack: a report from
"+ New report", every markdown construct of the quick guide rendered, a chart embedded with
"Embed in report" that draws and then updates as the run logs more, autosave, publish (editing
refused), a share link opened without an account and then revoked, the PDF with its chart drawn
(pdftoppm), the HTML export opened from disk with the network off and its chart hovered,
archive and delete; 40 XSS payloads rendered inert; notes on a project and an experiment."""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devstack import Stack
from tests.conftest import batch, new_id, scalar_event
from tests.e2e.browser import accessible, chromium, shot, signed_in
from tests.e2e.helpers import AUTH, gateway, ingest, open_experiment, wait_for
from tests.e2e.test_reports import png
from tests.e2e.test_widget_browser import needs_chromium

pytestmark = [pytest.mark.engines, needs_chromium]

GUIDE = """# Heading 1
## Heading 2
### Heading 3
#### Heading 4
##### Heading 5
###### Heading 6

**Bold**, *italic*, ~~struck~~ and `inline code`.

> A quote
>> nested inside it

1. First
2. Second
   - nested
   - [x] done
   - [ ] to do

| Left | Center | Right |
|:-----|:------:|------:|
| a    |   b    |     1 |

    indented code

```python
def loss(x):
    return 1 / (x + 1)
```

[A link](https://example.com/docs "Docs title") and ![an image](https://example.com/x.png "Image title")

<details>
<summary>More details</summary>

Hidden text.
</details>

---
"""

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)></svg>",
    "<svg><script>alert(4)</script></svg>",
    '<iframe src="javascript:alert(5)"></iframe>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="<script>alert(6)</script>"></iframe>',
    '<iframe src="/widget/" onload="alert(7)"></iframe>',
    "[click](javascript:alert(8))",
    "[click](JaVaScRiPt:alert(9))",
    "[click](&#106;avascript:alert(10))",
    "[click](data:text/html,<script>alert(11)</script>)",
    "![x](javascript:alert(12))",
    '<a href="javascript:alert(13)">a</a>',
    '<a href="vbscript:msgbox(14)">a</a>',
    "<body onload=alert(15)>",
    '<div onmouseover="alert(16)" style="position:fixed;inset:0">cover</div>',
    "<style>body{background:url(javascript:alert(17))}</style>",
    '<p style="background:url(javascript:alert(18))">styled</p>',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    '<object data="javascript:alert(19)"></object>',
    '<embed src="javascript:alert(20)">',
    '<form action="javascript:alert(21)"><button>go</button></form>',
    "<input autofocus onfocus=alert(22)>",
    "<details open ontoggle=alert(23)><summary>s</summary></details>",
    '<img src="x" onerror="alert(25)" title=""><',
    "<video><source onerror=alert(26)></video>",
    "<audio src=x onerror=alert(27)>",
    "<marquee onstart=alert(28)>m</marquee>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(29)">',
    '<base href="javascript:alert(30)//">',
    '<a href="#" onclick="alert(31)">click</a>',
    '<table background="javascript:alert(32)"><tr><td>t</td></tr></table>',
    '<img src="/api/v1/session" onload=alert(33)>',
    '<noscript><p title="</noscript><img src=x onerror=alert(34)>">',
    "<template><script>alert(35)</script></template>",
    '[a](https://ok.example "title" onmouseover=alert(36))',
    "<select><option><img src=x onerror=alert(37)></option></select>",
    "<textarea><img src=x onerror=alert(38)></textarea>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(24)>",
]


# What must not survive sanitizing: script-capable elements, event handlers, script URLs, srcdoc,
# and frames anywhere but this gateway's /widget/.
LIVE_CODE = """a => [...a.querySelectorAll('*')].flatMap((el) => {
  const tag = el.tagName.toUpperCase();
  const banned = ['SCRIPT', 'STYLE', 'OBJECT', 'EMBED', 'FORM', 'SVG', 'MATH', 'META', 'BASE', 'LINK'];
  const attrs = [...el.attributes].filter((x) => x.name.startsWith('on') || x.name === 'srcdoc'
    || (/^\\s*(javascript|vbscript):/i.test(x.value)));
  const frame = tag === 'IFRAME' && !new URL(el.getAttribute('src'), location.href).pathname.startsWith('/widget/');
  return [...(banned.includes(tag) ? [tag] : []), ...attrs.map((x) => tag + ' ' + x.name),
          ...(frame ? ['IFRAME ' + el.getAttribute('src')] : [])];
})"""


# Drops a PNG (base64) on the editor, as a file dragged from the computer.
DROP = """(el, b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const files = new DataTransfer();
  files.items.add(new File([bytes], 'red.png', { type: 'image/png' }));
  el.dispatchEvent(new DragEvent('drop', { dataTransfer: files, bubbles: true, cancelable: true }));
}"""


def wait_drawn(frame_el: Any) -> Any:
    """The chart in a widget frame once it has drawn; its frame."""
    frame = frame_el.content_frame
    frame.locator("body[data-state=drawn]").wait_for(timeout=30_000)
    return frame


def chart_points(frame: Any) -> int:
    return int(frame.locator(".scalar-chart").first.get_attribute("data-points") or 0)


def send_loss(stack: Stack, exp: str, seq: int, start: int, n: int) -> None:
    points = [("loss", "train", i, 1.0 / (i + 1)) for i in range(start, start + n)]
    ingest(stack).Append(batch(exp, scalar_event(seq, points)), metadata=AUTH, timeout=30)


def test_a_report_from_new_report_to_pdf_html_share_archive_and_delete(stack: Stack, tmp_path: Path) -> None:
    project = f"rep-ui-{new_id()[:6]}"
    exp = new_id()
    open_experiment(stack, exp, project=project, name="baseline")
    send_loss(stack, exp, 1, 0, 50)
    with gateway(stack) as gw:
        wait_for("the points", lambda: gw.get(f"/api/v1/experiments/{exp}").json()["metrics"], timeout=60)

    with chromium() as browser:
        page = signed_in(browser, stack)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))

        # Embed in report, from the experiment's Scalars tab
        page.goto(f"{stack.gateway_url}/experiments/{exp}")
        page.get_by_role("tab", name="Scalars").click()
        page.get_by_role("button", name="Embed in report").first.click()
        code = page.locator(".embed-code code").inner_text()
        assert code.startswith('<iframe src="') and "/widget/?" in code and "token=" not in code

        # + New report
        page.goto(f"{stack.gateway_url}/reports")
        page.get_by_role("button", name="+ New report").click()
        page.get_by_role("textbox", name="Name").fill("Loss of the baseline")
        page.get_by_role("textbox", name="Project").fill(project)
        page.get_by_role("textbox", name="Description").fill("What the loss curve says")
        page.get_by_role("button", name="Create").click()
        page.get_by_role("heading", name="Loss of the baseline").wait_for()
        report_id = page.url.rsplit("/", 1)[1]

        # every construct of the quick guide, then the chart
        page.get_by_label("Report (markdown)").fill(GUIDE + "\n" + code + "\n")
        preview = page.get_by_label("Report (preview)")
        for level in range(1, 7):
            assert preview.locator(f"h{level}").inner_text() == f"Heading {level}"
        assert preview.locator("strong").inner_text() == "Bold" and preview.locator("em").inner_text() == "italic"
        assert preview.locator("s, del").inner_text() == "struck"
        assert preview.locator("p code").first.inner_text() == "inline code"
        assert preview.locator("blockquote blockquote").inner_text() == "nested inside it"
        assert preview.locator("ol > li").count() == 2 and preview.locator("ol ul > li").count() == 3
        assert preview.locator("li.task input[type=checkbox][checked]").count() == 1
        assert preview.locator("li.task input[type=checkbox]:not([checked])").count() == 1
        assert preview.locator("td[style*='right']").inner_text() == "1"
        assert preview.locator("th[style*='center']").inner_text() == "Center"
        assert preview.locator("pre code").first.inner_text().strip() == "indented code"
        assert preview.locator("pre code .hljs-keyword").first.inner_text() == "def"
        assert preview.locator("a[title='Docs title']").get_attribute("href") == "https://example.com/docs"
        assert preview.locator("img[title='Image title']").get_attribute("alt") == "an image"
        assert preview.locator("details summary").inner_text() == "More details"
        assert preview.locator("hr").count() == 1
        # an image dropped from the computer: stored, linked and shown
        page.get_by_label("Report (markdown)").evaluate(DROP, base64.b64encode(png()).decode())
        dropped = preview.locator("img[alt='red.png']")
        dropped.wait_for()
        wait_for("the image to load", lambda: dropped.evaluate("i => i.complete && i.naturalWidth") == 3, timeout=20)
        assert "/images/" in (dropped.get_attribute("src") or "")
        frame = wait_drawn(preview.locator("figure.report-widget iframe"))
        before = chart_points(frame)
        assert before == 50
        assert preview.get_by_role("link", name="Return to resource").get_attribute("href") == f"/experiments/{exp}"
        page.get_by_role("status").filter(has_text="All changes saved").wait_for(timeout=15_000)
        shot(page, "report-editor")

        # the run logs more: the embedded chart follows
        send_loss(stack, exp, 2, 50, 50)
        wait_for("the chart to update", lambda: chart_points(frame) == 100, timeout=60)

        # saved: a reload shows the same text
        page.reload()
        assert "Heading 6" in page.get_by_label("Report (markdown)").input_value()

        # Share, then publish: read-only, and the API refuses edits
        page.get_by_role("button", name="Share").click()
        page.get_by_role("button", name="Create link").click()
        link = page.get_by_role("textbox", name="Share link").input_value()
        page.get_by_role("button", name="Close").click()
        page.get_by_role("button", name="Publish").click()
        page.get_by_text("Published: this report is read-only.").wait_for()
        assert page.get_by_label("Report (markdown)").count() == 0
        with gateway(stack) as gw:
            r = gw.get(f"/api/v1/reports/{report_id}").json()
            refused = gw.patch(f"/api/v1/reports/{report_id}", json={"version": r["version"], "body": "x"})
            assert refused.status_code == 409

        # the share link without an account: the report and its chart
        anonymous = browser.new_context(viewport={"width": 1200, "height": 900})
        shared = anonymous.new_page()
        shared.goto(link)
        shared.get_by_role("heading", name="Loss of the baseline").wait_for()
        assert chart_points(wait_drawn(shared.locator("figure.report-widget iframe"))) == 100
        shot(shared, "report-shared")

        # PDF: the chart is drawn in it
        page.get_by_text("Download").click()
        with page.expect_download() as pdf_download:
            page.get_by_role("menuitem", name="PDF").click()
        pdf = tmp_path / "report.pdf"
        pdf_download.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")
        assert series_pixels(pdf, tmp_path) > 150, "the chart's line is not in the PDF"

        # HTML: from disk, the network off, the chart draws and answers the mouse
        page.get_by_text("Download").click()
        with page.expect_download() as html_download:
            page.get_by_role("menuitem", name="HTML (charts work offline)").click()
        exported = tmp_path / "report.html"
        html_download.value.save_as(exported)
        offline = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
        local = offline.new_page()
        local.goto(exported.as_uri())
        frame_el = local.locator("iframe").first
        frame_el.scroll_into_view_if_needed()
        frame = wait_drawn(frame_el)
        assert chart_points(frame) == 100
        legend_of = frame.locator(".scalar-chart ul.legend").inner_text
        legend = legend_of()
        box = frame.locator(".scalar-chart .plot").first.bounding_box()
        local.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        wait_for("the hover legend", lambda: legend_of() != legend, timeout=10)

        # revoke: the link stops working at once
        page.get_by_role("button", name="Share").click()
        page.get_by_role("button", name="Revoke").click()
        page.get_by_role("button", name="Close").click()
        gone = anonymous.new_page()
        gone.goto(link)
        gone.get_by_text("revoked").wait_for()

        # archive and delete from the card menu
        page.goto(f"{stack.gateway_url}/reports?view=list&project={project}")
        page.get_by_label("Actions for Loss of the baseline").select_option("archive")
        page.get_by_role("link", name="Loss of the baseline").wait_for(state="detached")
        page.get_by_role("button", name="Archive").click()
        page.get_by_label("Actions for Loss of the baseline").select_option("delete")
        page.get_by_role("link", name="Loss of the baseline").wait_for(state="detached")
        with gateway(stack) as gw:
            assert gw.get(f"/api/v1/reports/{report_id}").status_code == 404
        assert any("Publish?" in d for d in dialogs) and any("Delete" in d for d in dialogs)


def series_pixels(pdf: Path, work: Path) -> int:
    """Pixels of the first series' colour (#4e79a7) in the PDF's pages, drawn at 100 dpi."""
    from PIL import Image

    subprocess.run(
        [shutil.which("pdftoppm") or "pdftoppm", "-r", "100", "-png", str(pdf), str(work / "page")], check=True
    )
    total = 0
    for page in sorted(work.glob("page*.png")):
        pixels = np.asarray(Image.open(page).convert("RGB"), dtype=np.int16)
        total += int((np.abs(pixels - np.array([0x4E, 0x79, 0xA7])).max(axis=2) < 30).sum())
    return total


def test_xss_payloads_render_inert(stack: Stack) -> None:
    body = "\n\n".join(f"Payload {i}:\n\n{p}" for i, p in enumerate(XSS)) + "\n\nThe end."
    with gateway(stack) as gw:
        r = gw.post("/api/v1/reports", json={"name": "<img src=x onerror=alert(99)>", "project": "xss",
                                              "description": "<script>alert(98)</script>", "body": body})  # fmt: skip
        assert r.status_code == 201, r.text
        report = r.json()
        token = gw.post(f"/api/v1/reports/{report['id']}/share").json()["token"]
    with chromium() as browser:
        page = signed_in(browser, stack)
        fired: list[str] = []
        errors: list[str] = []
        page.on("dialog", lambda d: (fired.append(d.message), d.dismiss()))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for url in (f"/reports/{report['id']}", f"/shared/{token}", "/reports?view=list&project=xss"):
            page.goto(stack.gateway_url + url)
            # (an unclosed raw-text element, as in the <math>…<style> payload, swallows the text after
            # it: inert, so the payloads that do that come last)
            page.get_by_text("Payload 0:" if "project" not in url else "<img src=x onerror=alert(99)>").first.wait_for()
            page.mouse.move(300, 300)
            page.mouse.move(600, 500)
            time.sleep(1)
            if "project" not in url:
                article = page.locator("article.markdown").last
                bad = article.evaluate(LIVE_CODE)
                assert bad == [], f"{url}: {bad}"
        shot(page, "report-xss")
    assert fired == [], f"a payload ran: {fired}"
    assert not [e for e in errors if "Content Security Policy" not in e and "Failed to load resource" not in e], errors


def test_notes_on_a_project_and_an_experiment(stack: Stack) -> None:
    project = f"notes-ui-{new_id()[:6]}"
    exp = new_id()
    open_experiment(stack, exp, project=project)
    with chromium() as browser:
        page = signed_in(browser, stack)
        page.goto(f"{stack.gateway_url}/projects/{project}")
        page.get_by_text("Project notes").click()
        page.get_by_role("button", name="Edit notes").click()
        page.get_by_label("Project notes (markdown)").fill("## Plan\n\n- [x] baseline\n- [ ] sweep the **lr**")
        assert page.get_by_label("Project notes (preview)").locator("h2").inner_text() == "Plan"
        page.get_by_role("button", name="Save notes").click()
        notes = page.get_by_label("Project notes").locator("article.markdown")
        notes.locator("strong").filter(has_text="lr").wait_for()
        accessible(page, "project notes")

        page.goto(f"{stack.gateway_url}/experiments/{exp}")
        page.get_by_role("tab", name="Notes").click()
        page.get_by_role("button", name="Edit notes").click()
        page.get_by_label("Experiment notes (markdown)").fill("Diverged at step 40: *lower the lr*.")
        page.get_by_role("button", name="Save notes").click()
        page.get_by_label("Experiment notes").locator("article.markdown em").filter(has_text="lower the lr").wait_for()
        shot(page, "experiment-notes")
    with gateway(stack) as gw:
        assert gw.get(f"/api/v1/experiments/{exp}/notes").json()["text"] == "Diverged at step 40: *lower the lr*."
        assert "sweep the **lr**" in gw.get("/api/v1/notes", params={"project": project}).json()["text"]
