// What a widget shows, by type: scalar charts (uPlot, the Scalars tab's chart: each line inside
// its min/max band), logged plots (Plotly), a table of single values, debug samples with an
// iteration slider, parallel coordinates (2-D lines, no WebGL). The data's texts come escaped
// for Plotly (which reads a subset of HTML); where React writes them as text they are unescaped.
import { useEffect, useMemo, useState } from "react";
import type { PlotlyFigure } from "../charts/plotly";
import { PlotlyView } from "../charts/PlotlyView";
import { ScalarChart, type ChartSeries } from "../charts/ScalarChart";
import { drawable } from "../charts/series";
import { PALETTE } from "../experiment/ScalarsTab";
import { parallelFigure, type PanelRow } from "../experiments/panels";
import { colourOf } from "../format";

const REFRESH_MS = 5000;

interface Trace { type?: string; name?: string; x?: number[]; y?: unknown[]; customdata?: unknown[]; [k: string]: unknown }
interface Chart { title: string; data: Trace[]; layout?: Record<string, unknown> }
interface Sample { experiment: string; experiment_name: string; metric: string; variant: string; iteration: number; content_type: string; url: string; iterations: number[]; kind: string }
export interface WidgetData {
  type: "scalar" | "plot" | "single" | "sample" | "parcoords";
  experiments: { id: string; name: string }[];
  running: boolean;
  charts: Chart[];
  samples: Sample[];
  offline?: boolean; // in a report exported as one HTML file: never read again
}

export function plain(text: unknown): string {
  return String(text ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function WidgetApp({ initial }: { initial: WidgetData }) {
  const [data, setData] = useState(initial);
  const [pinned, setPinned] = useState<Record<string, string>>({}); // what the viewer chose (a sample's iteration)
  const load = (extra: Record<string, string>) => {
    const url = new URL(window.location.href);
    url.searchParams.set("format", "json");
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
    return fetch(url.toString(), { credentials: "same-origin", cache: "no-store" }).then((r) => (r.ok ? r.json() as Promise<WidgetData> : null)).then((d) => d && setData(d), () => undefined);
  };
  useEffect(() => {
    if (!data.running || data.offline) return; // an exported report's chart: drawn once, offline
    const timer = setTimeout(() => void load(pinned), REFRESH_MS); // offline for a moment: the next tick tries again
    return () => clearTimeout(timer);
  }, [data, pinned]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { document.body.dataset.state = "drawn"; }, [data]);
  if (data.type === "sample") {
    return <Samples data={data} onIteration={(it) => { const next = { ...pinned, iteration: String(it) }; setPinned(next); void load(next); }} />;
  }
  if (!data.charts.length) return <p className="tl-empty">Nothing to show yet.</p>;
  return <>{data.charts.map((chart, i) => <ChartOf key={`${chart.title}-${i}`} chart={chart} data={data} />)}</>;
}

function ChartOf({ chart, data }: { chart: Chart; data: WidgetData }) {
  const first = chart.data[0] ?? {};
  if (first.type === "table") return <Table chart={chart} trace={first} />;
  return (
    <section className="tl-chart" aria-label={plain(chart.title)}>
      <h2 title={plain(chart.title)}>{plain(chart.title)}</h2>
      {data.type === "scalar" ? <Scalars chart={chart} />
        : first.type === "parcoords" ? <Parallel chart={chart} trace={first} />
          : <PlotlyView figure={{ data: chart.data, layout: chart.layout }} label={plain(chart.title)} state="drawn" height={Math.max(260, Math.floor(window.innerHeight / Math.max(1, data.charts.length)) - 60)} />}
    </section>
  );
}

/** A scalar chart: the traces' means inside their min/max band (the customdata pairs). */
function Scalars({ chart }: { chart: Chart }) {
  const xaxis = (chart.layout?.xaxis ?? {}) as { type?: string; title?: { text?: string } };
  const wall = xaxis.type === "date";
  const series = useMemo<ChartSeries[]>(() => chart.data.map((t, i) => {
    const bands = (t.customdata ?? []) as [unknown, unknown][];
    return {
      name: plain(t.name), colour: PALETTE[i % PALETTE.length]!,
      x: (t.x ?? []).map((v) => (wall ? v / 1000 : v)), line: drawable(t.y ?? []),
      min: drawable(bands.map((b) => b?.[0])), max: drawable(bands.map((b) => b?.[1])),
    };
  }), [chart, wall]);
  return (
    <ScalarChart
      title={plain(chart.title)} series={series} sync="widget" zoomed={false} onZoom={() => undefined} onReset={() => undefined}
      options={{ smoothing: 0, smoother: "ema", band: true, log: false, xLabel: xaxis.title?.text || "time", time: wall }}
    />
  );
}

/** Plotly's parcoords description drawn as 2-D lines over normalised axes. */
function Parallel({ chart, trace }: { chart: Chart; trace: Trace }) {
  const figure = useMemo<PlotlyFigure>(() => {
    const dims = (trace.dimensions ?? []) as { label: string; values: (number | null)[]; ticktext?: string[] }[];
    const names = (trace.customdata ?? []) as string[];
    const axes = dims.map((d) => d.label); // Plotly draws these: they stay escaped
    const runs = dims[0]?.values.length ?? 0;
    const rows: PanelRow[] = Array.from({ length: runs }, (_, r) => ({
      id: `run-${r}`, name: names[r] ?? `run ${r + 1}`,
      columns: Object.fromEntries(dims.map((d, k) => {
        const v = d.values[r];
        return [axes[k], d.ticktext && v !== null && v !== undefined ? d.ticktext[v] : v];
      })),
    }));
    return parallelFigure(rows, axes, { label: (a) => a, name: (r) => r.name, colour: (id) => colourOf(names[Number(id.slice(4))] ?? id) });
  }, [trace]);
  return <PlotlyView figure={figure} label={plain(chart.title)} state="drawn" height={Math.max(260, window.innerHeight - 60)} />;
}

function Table({ chart, trace }: { chart: Chart; trace: Trace }) {
  const header = ((trace.header as { values?: unknown[] } | undefined)?.values ?? []).map(plain);
  const columns = ((trace.cells as { values?: unknown[][] } | undefined)?.values ?? []);
  const n = Math.max(0, ...columns.map((c) => c.length));
  return (
    <section className="tl-table" role="region" aria-label={plain(chart.title)} tabIndex={0}>
      <h2>{plain(chart.title)}</h2>
      <table>
        <thead><tr>{header.map((h, i) => <th key={i} scope="col">{h}</th>)}</tr></thead>
        <tbody>{Array.from({ length: n }, (_, r) => <tr key={r}>{columns.map((c, i) => <td key={i}>{c[r] === null || c[r] === undefined ? "" : plain(c[r])}</td>)}</tr>)}</tbody>
      </table>
    </section>
  );
}

function Samples({ data, onIteration }: { data: WidgetData; onIteration: (iteration: number) => void }) {
  if (!data.samples.length) return <p className="tl-empty">No debug samples yet.</p>;
  return (
    <div className="tl-samples">
      {data.samples.map((s) => {
        const label = `${data.experiments.length > 1 ? `${s.experiment_name} · ` : ""}${s.metric} / ${s.variant}`;
        const at = Math.max(0, s.iterations.indexOf(s.iteration));
        return (
          <figure key={`${s.experiment}/${s.metric}/${s.variant}`} className="tl-sample">
            {s.content_type.startsWith("image/") ? <img src={s.url} alt={`${label}, iteration ${s.iteration}`} />
              : s.content_type.startsWith("audio/") ? <audio controls src={s.url} aria-label={label} />
                : s.content_type.startsWith("video/") ? <video controls src={s.url} aria-label={label} />
                  : <a href={s.url} target="_blank" rel="noopener noreferrer">open {label}</a>}
            <figcaption>
              <span>{label} · iteration {s.iteration}</span>
              {s.iterations.length > 1 && (
                <input type="range" min={0} max={s.iterations.length - 1} step={1} defaultValue={at} aria-label={`Iteration of ${label}`}
                  onChange={(e) => onIteration(s.iterations[Number(e.target.value)]!)} />
              )}
            </figcaption>
          </figure>
        );
      })}
    </div>
  );
}
