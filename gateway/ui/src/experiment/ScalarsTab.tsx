// The Scalars tab (and, with ``system``, the System tab of machine metrics): a chart per metric
// (its variants as lines) or per metric/variant; x as iteration, relative or wall time;
// smoothing, the min/max band, log scale, a search over chart names. Only charts in view are
// mounted and fetched; a zoom fetches its range at full resolution. The options live in the URL.
import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api, type Experiment, type Schemas } from "../api";
import { ScalarChart, type ChartOptions, type ChartSeries } from "../charts/ScalarChart";
import { drawable, join, toCsv, type Smoother } from "../charts/series";
import { useTick } from "../live";
import { navigate, withParams } from "../route";
import { useEmbed } from "../charts/EmbedBox";
import { download, useNear } from "../charts/lazy";
import { chartSeries } from "../charts/batch";

export const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8cd17d"];
const MONITOR = ":monitor:";
const SAMPLES = 1000; // buckets of a zoom, and at most of an overview
const MIN_SAMPLES = 200;
/** An overview's buckets: about one per pixel of the plot (a bucket's min and max are what a
 * pixel column can show), in steps of 100 so that the charts of a grid ask alike. */
export function overviewSamples(frameWidth: number): number {
  return Math.min(SAMPLES, Math.max(MIN_SAMPLES, Math.ceil((frameWidth - 70) / 100) * 100));
}
const WIDGET_XAXIS = { iter: "iter", relative: "timestamp", wall: "iso_time" } as const;
const X_LABELS: Record<string, string> = { iter: "iteration", relative: "seconds since start", wall: "time" };

interface Chart {
  title: string;
  metric: string;
  variants: string[]; // all of the metric's when grouped by metric
  single: string | null; // the one variant of a per-variant chart
}

interface Settings {
  group: "metric" | "none";
  xaxis: "iter" | "relative" | "wall";
  smoothing: number;
  smoother: Smoother;
  band: boolean;
  log: boolean;
  search: string;
}

function readSettings(url: URL): Settings {
  const p = url.searchParams;
  const x = p.get("xaxis");
  const sm = p.get("smoother");
  return {
    group: p.get("chart") === "variant" ? "none" : "metric",
    xaxis: x === "relative" || x === "wall" ? x : "iter",
    smoothing: Math.min(0.999, Math.max(0, Number(p.get("smooth") ?? 0) || 0)),
    smoother: sm === "average" || sm === "gaussian" ? sm : "ema",
    band: p.get("band") !== "0",
    log: p.get("log") === "1",
    search: p.get("charts") ?? "",
  };
}

export function ScalarsTab({ experiment, system = false }: { experiment: Experiment; system?: boolean }) {
  const url = new URL(window.location.href);
  const settings = readSettings(url);
  const set = (change: Record<string, string>) => navigate(withParams(new URL(window.location.href), change), true);
  const charts = useMemo<Chart[]>(() => {
    const mine = experiment.metrics.filter((m) => m.metric.startsWith(MONITOR) === system);
    const byMetric = new Map<string, string[]>();
    for (const m of mine) byMetric.set(m.metric, [...(byMetric.get(m.metric) ?? []), m.variant]);
    const all: Chart[] = [];
    for (const [metric, variants] of [...byMetric.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const name = system ? metric.slice(MONITOR.length) : metric;
      if (settings.group === "metric") all.push({ title: name, metric, variants: variants.sort(), single: null });
      else for (const v of variants.sort()) all.push({ title: v === metric ? name : `${name} / ${v}`, metric, variants: [v], single: v });
    }
    return all;
  }, [experiment.metrics, system, settings.group]);
  const needle = settings.search.trim().toLowerCase();
  let matcher: (t: string) => boolean = (t) => t.toLowerCase().includes(needle);
  if (needle.startsWith("/") && needle.length > 1) {
    try {
      const re = new RegExp(needle.slice(1), "i");
      matcher = (t) => re.test(t);
    } catch { /* not a regular expression yet: plain text */ }
  }
  const shown = needle ? charts.filter((c) => matcher(c.title)) : charts;
  const options: ChartOptions = {
    smoothing: settings.smoothing, smoother: settings.smoother, band: settings.band, log: settings.log,
    xLabel: X_LABELS[settings.xaxis] ?? "x", time: settings.xaxis === "wall",
  };
  if (!charts.length) {
    return <p className="muted">{system
      ? "No machine metrics: the SDK samples CPU, memory, disk, network and GPUs every monitor_interval seconds (30 by default; None turns it off)."
      : "No scalars reported yet. run.log_scalar(metric, variant, value, iteration) reports one."}</p>;
  }
  return (
    <div className="scalars-tab">
      <div className="toolbar chart-tools" role="group" aria-label="Chart options">
        <label>Charts
          <select value={settings.group} onChange={(e) => set({ chart: e.target.value === "none" ? "variant" : "" })}>
            <option value="metric">one per metric</option>
            <option value="none">one per metric and variant</option>
          </select>
        </label>
        <label>X axis
          <select value={settings.xaxis} onChange={(e) => set({ xaxis: e.target.value === "iter" ? "" : e.target.value })}>
            <option value="iter">iteration</option>
            <option value="relative">relative time</option>
            <option value="wall">wall time</option>
          </select>
        </label>
        <label>Smoothing
          <select value={settings.smoother} onChange={(e) => set({ smoother: e.target.value === "ema" ? "" : e.target.value })}>
            <option value="ema">exponential</option>
            <option value="average">running average</option>
            <option value="gaussian">gaussian</option>
          </select>
        </label>
        <label>Weight {settings.smoothing.toFixed(2)}
          <input type="range" min={0} max={0.99} step={0.01} value={settings.smoothing} aria-label="Smoothing weight"
            onChange={(e) => set({ smooth: Number(e.target.value) ? e.target.value : "" })} />
        </label>
        <label className="check-label"><input type="checkbox" checked={settings.band} onChange={(e) => set({ band: e.target.checked ? "" : "0" })} />min/max band</label>
        <label className="check-label"><input type="checkbox" checked={settings.log} onChange={(e) => set({ log: e.target.checked ? "1" : "" })} />log scale</label>
        <label>Find charts
          <input type="search" value={settings.search} placeholder="name, or /regex" onChange={(e) => set({ charts: e.target.value })} />
        </label>
        <span className="muted">{shown.length} of {charts.length} charts</span>
      </div>
      <div className="charts">
        {shown.map((c) => (
          <LazyChart key={`${c.metric}\u0000${c.single ?? ""}`} chart={c} experiment={experiment} xaxis={settings.xaxis} options={options} system={system} />
        ))}
      </div>
    </div>
  );
}

/** What a chart's answer holds, in short: its series, their points and the x they span (points
 * are only ever added, so the same signature is the same data). */
export function signature(series: Schemas["Series"][]): string {
  return series.map((s) => `${s.variant}\u0000${s.total_points}\u0000${s.x.length}\u0000${s.x[0]}\u0000${s.x[s.x.length - 1]}`).join("\u0001");
}

/** A chart's frame, which mounts and fetches the chart only once it comes near the view. */
function LazyChart(props: { chart: Chart; experiment: Experiment; xaxis: Settings["xaxis"]; options: ChartOptions; system: boolean }) {
  const frame = useRef<HTMLElement>(null);
  const near = useNear(frame);
  return (
    <section ref={frame} className="chart-frame" aria-label={`Chart ${props.chart.title}`} data-mounted={near}>
      <h3 title={props.chart.title}>{props.chart.title}</h3>
      {near ? <LoadedChart {...props} overview={overviewSamples(frame.current?.clientWidth ?? 0)} /> : <div className="chart-placeholder" aria-hidden="true" />}
    </section>
  );
}

function LoadedChart({ chart, experiment, xaxis, options, system, overview: wide }: { chart: Chart; experiment: Experiment; xaxis: Settings["xaxis"]; options: ChartOptions; system: boolean; overview: number }) {
  const [overview] = useState(wide); // the buckets of the whole range, chosen once (a resize draws the same data)
  const tick = useTick();
  const [range, setRange] = useState<[number, number] | null>(null);
  const [series, setSeries] = useState<ChartSeries[] | null>(null);
  const [downsampled, setDownsampled] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const live = experiment.status === "running" && range === null;
  const [reread, setReread] = useState(0); // bumped to read the whole range again (re-bucket)
  // what the chart shows, not the object: a live run's summaries change every refresh
  const chartKey = `${chart.metric}\u0000${chart.single ?? ""}\u0000${chart.variants.join("\u0000")}`;
  const drawn = useRef<ChartSeries[] | null>(null);
  // what is drawn is the whole range with every point (exact x values: new points can be appended)
  const exact = useRef(false);
  const reading = useRef(false); // a read of the whole range (or a zoom) is on its way
  // what the last answer held: an unchanged one (a 304, or the same points read again after a
  // page of charts was read together) is not drawn again, so a live chart never redraws under a drag
  const last = useRef<string | null>(null);
  const show = (next: ChartSeries[]) => { drawn.current = next; setSeries(next); };
  const shape = (s: Schemas["Series"]): ChartSeries => ({
    name: s.variant, colour: PALETTE[chart.variants.indexOf(s.variant) % PALETTE.length]!,
    x: s.x, line: drawable(s.mean), min: drawable(s.min), max: drawable(s.max),
  });
  const failed = (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e));
  useEffect(() => setRange(null), [xaxis]);
  useEffect(() => { // the whole range (or the zoom), in buckets where it is long
    let current = true;
    reading.current = true;
    // the first read goes with the other charts coming into view (one request for them all); a
    // zoom or a read again alone, by GET (an unchanged answer is then a 304, the same object)
    const read: Promise<Schemas["Series"][]> = range === null && reread === 0
      ? chartSeries(experiment.id, xaxis, overview, chart.metric, chart.single, chart.variants.length)
      : api.scalars(experiment.id, {
        metric: chart.metric, variant: chart.single ?? undefined, samples: range ? SAMPLES : overview, xaxis,
        x_min: range?.[0], x_max: range?.[1],
      }).then((answer) => answer.series);
    read.then((answer) => {
      if (!current) return;
      reading.current = false;
      const seen = signature(answer);
      if (seen === last.current) return; // unchanged: nothing to draw again
      last.current = seen;
      const wanted = answer.filter((s) => chart.variants.includes(s.variant));
      setDownsampled(wanted.some((s) => s.downsampled));
      exact.current = range === null && !wanted.some((s) => s.downsampled);
      show(wanted.map(shape));
      setProblem(null);
    }, (e: unknown) => { if (current) { reading.current = false; failed(e); } });
    return () => { current = false; };
  }, [experiment.id, chartKey, xaxis, range, reread]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { // while the run is live: the new points appended, or (buckets) the range read again
    const have = drawn.current;
    if (!live || !have || tick === 0 || reading.current) return;
    if (!exact.current) { // buckets' x are not the points': read again (an unchanged answer is a 304)
      setReread((n) => n + 1);
      return;
    }
    let current = true;
    const after = Math.max(-Infinity, ...have.map((s) => s.x[s.x.length - 1] ?? -Infinity));
    api.scalars(experiment.id, {
      metric: chart.metric, variant: chart.single ?? undefined, samples: overview, xaxis,
      x_min: Number.isFinite(after) ? (xaxis === "iter" ? after + 1 : after + 1e-6) : undefined,
    }).then((answer) => {
      if (!current || drawn.current !== have || reading.current) return;
      const fresh = answer.series.filter((s) => chart.variants.includes(s.variant) && s.x.length);
      if (!fresh.length) return;
      const appended = have.map((s) => {
        const more = fresh.find((f) => f.variant === s.name);
        if (!more) return s;
        const m = shape(more);
        return { ...s, x: [...s.x, ...m.x], line: [...s.line, ...m.line], min: [...s.min, ...m.min], max: [...s.max, ...m.max] };
      });
      const added = fresh.filter((f) => !have.some((s) => s.name === f.variant)).map(shape);
      const next = [...appended, ...added];
      // many new points at once, or a chart grown past twice its buckets: read it again, re-bucketed
      if (fresh.some((f) => f.downsampled) || next.some((s) => s.x.length > 2 * overview)) setReread((n) => n + 1);
      else show(next);
    }, () => undefined); // a failed refresh leaves the chart as it is; the banner says why
    return () => { current = false; };
  }, [live ? tick : 0]); // eslint-disable-line react-hooks/exhaustive-deps

  const box = useRef<HTMLDivElement>(null);
  const embed = useEmbed(() => ({ objects: experiment.id, type: "scalar", metrics: chart.metric, ...(chart.single ? { variants: chart.single } : {}), xaxis: WIDGET_XAXIS[xaxis] }));
  if (problem && !series) return <p role="alert" className="notice">{problem}</p>;
  if (!series) return <div className="chart-placeholder" aria-busy="true" />;
  const base = `${experiment.name || experiment.id}-${chart.title}`.replace(/[^\w.-]+/g, "_");
  const png = () => box.current?.querySelector("canvas")?.toBlob((b) => b && download(`${base}.png`, b));
  const csv = () => {
    const j = join(series);
    download(`${base}.csv`, new Blob([toCsv(j.x, series.map((s) => s.name), j.line, j.min, j.max)], { type: "text/csv" }));
  };
  const json = () => download(`${base}.json`, new Blob([JSON.stringify({ experiment: experiment.id, metric: chart.metric, xaxis, series }, null, 1)], { type: "application/json" }));
  return (
    <div ref={box}>
      <ScalarChart
        title={chart.title} series={series} options={options} sync={`scalars-${experiment.id}${system ? "-system" : ""}`}
        zoomed={range !== null} onZoom={(lo, hi) => setRange([lo, hi])} onReset={() => setRange(null)}
      />
      <div className="chart-actions">
        {range && <button type="button" onClick={() => setRange(null)}>Reset zoom</button>}
        <span className="muted small">{range ? `zoomed: ${downsampled ? "buckets" : "every point"}` : downsampled ? "buckets of min / mean / max" : "every point"}{live ? " · live" : ""}</span>
        <button type="button" onClick={png}>PNG</button>
        <button type="button" onClick={csv}>CSV</button>
        <button type="button" onClick={json}>JSON</button>
        {embed.button}
      </div>
      {embed.box}
    </div>
  );
}
