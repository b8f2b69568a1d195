// Tracklane widget: draws the data embedded in the page (script#tl-data), then refreshes it
// from the same URL with format=json while any shown experiment is running. Every text from the
// data goes into the page through textContent or attributes, never as HTML.
(function () {
  "use strict";
  const REFRESH_MS = 5000;
  const root = document.getElementById("tl-root");
  const light = document.body.classList.contains("light");
  const fg = light ? "#222" : "#ddd";
  const grid = light ? "#e5e5e5" : "#333";
  let data = JSON.parse(document.getElementById("tl-data").textContent);

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function layoutOf(chart, count) {
    const base = chart.layout || {};
    const height = Math.max(200, Math.floor((window.innerHeight - 8) / Math.max(1, count)) - 8);
    return Object.assign({}, base, {
      title: { text: chart.title, font: { size: 13, color: fg } },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: fg },
      height: height,
      margin: { l: 50, r: 20, t: 36, b: 36 },
      showlegend: true,
      legend: { orientation: "h" },
      xaxis: Object.assign({ gridcolor: grid }, base.xaxis || {}),
      yaxis: Object.assign({ gridcolor: grid }, base.yaxis || {}),
    });
  }

  function drawCharts() {
    const charts = data.charts;
    const existing = root.querySelectorAll(".tl-chart");
    if (existing.length !== charts.length) {
      root.replaceChildren();
      charts.forEach(() => root.appendChild(el("div", { class: "tl-chart" })));
    }
    const nodes = root.querySelectorAll(".tl-chart");
    charts.forEach((chart, i) => {
      Plotly.react(nodes[i], chart.data, layoutOf(chart, charts.length), { displaylogo: false, responsive: true, showSendToCloud: false, modeBarButtonsToRemove: ["sendDataToCloud", "sendChartToCloud"] });
    });
    if (!charts.length) root.replaceChildren(el("p", { class: "tl-empty" }, "Nothing to show yet."));
  }

  function sampleMedia(s) {
    const type = s.content_type || "";
    if (type.startsWith("image/")) return el("img", { src: s.url, alt: s.metric + " / " + s.variant });
    if (type.startsWith("audio/")) return el("audio", { src: s.url, controls: "" });
    if (type.startsWith("video/")) return el("video", { src: s.url, controls: "" });
    return el("a", { href: s.url, target: "_blank", rel: "noopener noreferrer" }, "open " + s.metric + " / " + s.variant);
  }

  function drawSamples() {
    root.replaceChildren();
    if (!data.samples.length) root.appendChild(el("p", { class: "tl-empty" }, "No debug samples yet."));
    data.samples.forEach((s) => {
      const box = el("figure", { class: "tl-sample" });
      const caption = el("figcaption");
      const name = data.experiments.length > 1 ? s.experiment_name + " · " : "";
      caption.appendChild(el("span", {}, name + s.metric + " / " + s.variant + " · iteration " + s.iteration));
      const its = s.iterations;
      if (its.length > 1) {
        const slider = el("input", { type: "range", min: "0", max: String(its.length - 1), step: "1",
                                     value: String(Math.max(0, its.indexOf(s.iteration))), "aria-label": "iteration" });
        slider.addEventListener("change", () => load({ iteration: its[Number(slider.value)] }, false));
        caption.appendChild(slider);
      }
      box.appendChild(sampleMedia(s));
      box.appendChild(caption);
      root.appendChild(box);
    });
  }

  function draw() {
    if (data.type === "sample") drawSamples();
    else drawCharts();
    document.body.dataset.state = "drawn";
  }

  let pinned = {};  // parameters the viewer chose (the sample slider's iteration)
  async function load(extra, keepPolling) {
    pinned = Object.assign(pinned, extra || {});
    const url = new URL(window.location.href);
    url.searchParams.set("format", "json");
    for (const [k, v] of Object.entries(pinned)) url.searchParams.set(k, String(v));
    try {
      const resp = await fetch(url.toString(), { credentials: "omit", cache: "no-store" });
      if (resp.ok) {
        data = await resp.json();
        draw();
      }
    } catch (e) {
      // offline for a moment: try again on the next tick
    }
    if (keepPolling && data.running) setTimeout(() => load({}, true), REFRESH_MS);
  }

  draw();
  if (data.running) setTimeout(() => load({}, true), REFRESH_MS);
  window.addEventListener("resize", () => { if (data.type !== "sample") drawCharts(); });
})();
