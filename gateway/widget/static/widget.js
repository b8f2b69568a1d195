// Tracklane widget: draws the data embedded in the page (script#tl-data), then refreshes it
// from the same URL with format=json while any shown experiment is running. Every text from the
// data goes into the page through textContent or attributes, never as HTML. The colours are the
// web UI's (gateway/ui/src/theme.css); nothing is drawn with WebGL: parallel coordinates are
// lines over normalised axes, tables are HTML tables.
(function () {
  "use strict";
  const REFRESH_MS = 5000;
  const root = document.getElementById("tl-root");
  const light = document.body.classList.contains("light");
  const fg = light ? "#16181b" : "#e8e9eb";
  const grid = light ? "#d6d9de" : "#34373d";
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8cd17d"];
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
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
    const axis = (a) => Object.assign({ gridcolor: grid, zerolinecolor: grid, linecolor: grid, automargin: true }, a || {});
    return Object.assign({}, base, {
      title: { text: chart.title, font: { size: 13, color: fg }, x: 0.01, xanchor: "left" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      colorway: PALETTE,
      font: { color: fg },
      height: height,
      margin: { l: 50, r: 20, t: 36, b: 20 },
      showlegend: base.showlegend !== false,
      // below the axis title, never over it: anchored to the container's bottom edge
      legend: { orientation: "h", x: 0, xanchor: "left", y: 0, yanchor: "bottom", yref: "container" },
      xaxis: axis(base.xaxis),
      yaxis: axis(base.yaxis),
    });
  }

  function viridis(t) {
    const at = Math.min(VIRIDIS.length - 1.001, Math.max(0, t) * (VIRIDIS.length - 1));
    const i = Math.floor(at), f = at - i;
    const c = VIRIDIS[i].map((v, k) => Math.round(v + (VIRIDIS[i + 1][k] - v) * f));
    return "rgb(" + c.join(",") + ")";
  }

  // Parallel coordinates as 2-D lines: each axis scaled to [0, 1] between its min and max (a
  // categorical one spaced by category), a line per run coloured by the last axis (the metric).
  function parcoordsAs2d(trace) {
    const dims = trace.dimensions || [];
    const names = trace.customdata || [];
    const runs = dims.length ? dims[0].values.length : 0;
    const scaled = dims.map((d) => {
      const vs = d.values.filter((v) => v !== null && v !== undefined);
      const lo = d.ticktext ? 0 : Math.min.apply(null, vs);
      const hi = d.ticktext ? Math.max(1, d.ticktext.length - 1) : Math.max.apply(null, vs);
      const span = hi - lo || 1;
      return { d: d, lo: lo, hi: hi, at: (v) => (v === null || v === undefined ? null : hi === lo && !d.ticktext ? 0.5 : (v - lo) / span) };
    });
    const metric = scaled[scaled.length - 1];
    const traces = [];
    for (let r = 0; r < runs; r += 1) {
      const m = metric ? metric.at(metric.d.values[r]) : null;
      const shown = scaled.map((s) => {
        const v = s.d.values[r];
        return s.d.ticktext && v !== null && v !== undefined ? s.d.ticktext[v] : v;
      });
      traces.push({
        type: "scatter", mode: "lines+markers", x: scaled.map((_, i) => i), y: scaled.map((s) => s.at(s.d.values[r])),
        line: { color: m === null ? grid : viridis(light ? m : 0.25 + 0.75 * m), width: 2 }, marker: { size: 5 },
        name: names[r] || "run " + (r + 1),
        text: scaled.map((s, i) => s.d.label + ": " + (shown[i] === null || shown[i] === undefined ? "—" : shown[i])),
        hovertemplate: "%{fullData.name}<br>%{text}<extra></extra>", showlegend: false,
      });
    }
    const ticks = (s) => s.d.ticktext ? s.d.ticktext.map((t, i) => [s.at(i), t]) : [[0, s.lo], [1, s.hi]];
    const annotations = [];
    const shapes = [];
    scaled.forEach((s, i) => {
      shapes.push({ type: "line", x0: i, x1: i, y0: 0, y1: 1, line: { color: fg, width: 1 } });
      ticks(s).forEach((t) => annotations.push({
        x: i, y: t[0], text: typeof t[1] === "number" ? String(Number(t[1].toPrecision(4))) : String(t[1]),
        showarrow: false, xanchor: "left", xshift: 4, font: { size: 10, color: fg },
      }));
    });
    return {
      data: traces,
      layout: {
        showlegend: false, shapes: shapes, annotations: annotations, hovermode: "closest",
        xaxis: { tickvals: scaled.map((_, i) => i), ticktext: scaled.map((s) => s.d.label), range: [-0.2, scaled.length - 0.6], showgrid: false, zeroline: false },
        yaxis: { visible: false, range: [-0.05, 1.05] },
      },
    };
  }

  // Texts come escaped for plotly (which reads a subset of HTML); as textContent they are plain.
  function plain(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  // A table as an HTML table: readable in both themes, selectable and found by the browser.
  function tableNode(chart, trace) {
    const box = el("div", { class: "tl-table", role: "region", "aria-label": plain(chart.title), tabindex: "0" });
    box.appendChild(el("h2", {}, plain(chart.title)));
    const table = el("table");
    const head = el("tr");
    ((trace.header || {}).values || []).forEach((h) => head.appendChild(el("th", { scope: "col" }, plain(h))));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    const columns = (trace.cells || {}).values || [];
    const n = Math.max.apply(null, [0].concat(columns.map((c) => c.length)));
    for (let i = 0; i < n; i += 1) {
      const row = el("tr");
      columns.forEach((c) => row.appendChild(el("td", {}, c[i] === null || c[i] === undefined ? "" : plain(c[i]))));
      body.appendChild(row);
    }
    box.appendChild(table);
    return box;
  }

  const CONFIG = { displaylogo: false, responsive: true, showSendToCloud: false, modeBarButtonsToRemove: ["sendDataToCloud", "sendChartToCloud"] };

  const isTable = (chart) => (chart.data[0] || {}).type === "table";

  function drawCharts() {
    const charts = data.charts;
    const kinds = charts.map((c) => (isTable(c) ? "tl-table" : "tl-chart"));
    const nodes = Array.from(root.children);
    if (nodes.length !== charts.length || kinds.some((k, i) => nodes[i].className !== k)) {
      root.replaceChildren(); // a refresh with the same charts keeps them (and their zoom)
      kinds.forEach((k) => root.appendChild(el("div", { class: k })));
    }
    charts.forEach((chart, i) => {
      const node = root.children[i];
      const first = chart.data[0] || {};
      if (isTable(chart)) { node.replaceWith(tableNode(chart, first)); return; }
      let drawn = chart;
      if (first.type === "parcoords") {
        const flat = parcoordsAs2d(first);
        drawn = { title: chart.title, data: flat.data, layout: Object.assign({}, chart.layout, flat.layout) };
      }
      Plotly.react(node, drawn.data, layoutOf(drawn, charts.length), CONFIG);
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
