// The Plots tab: what the run logged with log_plot, log_matplotlib (as log_plot), log_table,
// log_confusion_matrix and log_histogram, grouped by title, the latest of each; an iteration
// picker per plot; a confusion matrix as counts or % by row / column; a histogram at one
// iteration or over time (a ridgeline: steps in depth, drawn in 2-D so it needs no WebGL);
// PNG, CSV, JSON and Embed. Plotly is loaded only when the tab opens, each plot only near view.
import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api, type Experiment, type Schemas } from "../api";
import { confusionFigure, figureCsv, histogramOf, ridgeline, type ConfusionMode, type Histogram } from "../charts/figures";
import { download, fileBase, useNear } from "../charts/lazy";
import { fade } from "../charts/series";
import { loadPlotly, type PlotlyFigure } from "../charts/plotly";
import { PlotlyView } from "../charts/PlotlyView";
import { datetime } from "../format";
import { useTick } from "../live";
import { navigate, withParams } from "../route";
import { useEmbed } from "../charts/EmbedBox";

type Plot = Schemas["Plot"];
const HISTORY = 100; // the iterations a histogram over time shows (the newest)

export function PlotsTab({ experiment }: { experiment: Experiment }) {
  const tick = useTick();
  const search = new URL(window.location.href).searchParams.get("plots") ?? "";
  const [latest, setLatest] = useState<Plot[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const live = experiment.status === "running";
  useEffect(() => {
    api.plots(experiment.id, {}).then((p) => { setLatest(p.plots); setProblem(null); },
      (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e)));
  }, [experiment.id, live ? Math.floor(tick / 3) : 0]); // eslint-disable-line react-hooks/exhaustive-deps
  const groups = useMemo(() => {
    const needle = search.toLowerCase();
    const byTitle = new Map<string, Plot[]>();
    for (const p of latest ?? []) {
      if (needle && !`${p.metric} / ${p.variant}`.toLowerCase().includes(needle)) continue;
      byTitle.set(p.metric, [...(byTitle.get(p.metric) ?? []), p]);
    }
    return [...byTitle.entries()];
  }, [latest, search]);
  if (problem && !latest) return <p role="alert" className="notice">{problem}</p>;
  if (!latest) return <p className="muted" aria-busy="true">Loading…</p>;
  if (!latest.length) return <p className="muted">No plots. run.log_plot, log_table, log_confusion_matrix and log_histogram report them.</p>;
  return (
    <div className="plots-tab">
      <div className="toolbar wide">
        <label>Find plots
          <input type="search" value={search} placeholder="title or series" onChange={(e) => navigate(withParams(new URL(window.location.href), { plots: e.target.value }), true)} />
        </label>
        <span className="muted">{groups.reduce((n, [, p]) => n + p.length, 0)} of {latest.length}</span>
      </div>
      {groups.map(([title, plots]) => (
        <section key={title} className={plots.length > 1 ? "plot-group wide" : "plot-group"} aria-label={`Plots titled ${title}`}>
          <h3 title={title}>{title}</h3>
          <div className="plot-grid">
            {plots.map((p) => <PlotCard key={`${p.metric}\u0000${p.variant}`} experiment={experiment} latest={p} />)}
          </div>
        </section>
      ))}
    </div>
  );
}

function PlotCard({ experiment, latest }: { experiment: Experiment; latest: Plot }) {
  const frame = useRef<HTMLElement>(null);
  const near = useNear(frame);
  const title = `${latest.metric} / ${latest.variant}`;
  return (
    <section ref={frame} className="chart-frame plot-card" aria-label={`Plot ${title}`} data-kind={latest.kind}>
      <h4 title={title}>{latest.variant}</h4>
      {near ? <LoadedPlot experiment={experiment} latest={latest} /> : <div className="chart-placeholder" aria-hidden="true" />}
    </section>
  );
}

function LoadedPlot({ experiment, latest }: { experiment: Experiment; latest: Plot }) {
  const [shown, setShown] = useState<Plot>(latest);
  const [browsing, setBrowsing] = useState(false);
  const [mode, setMode] = useState<ConfusionMode>("counts");
  const [overTime, setOverTime] = useState(false);
  const [history, setHistory] = useState<Histogram[] | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const graph = useRef<HTMLDivElement>(null);
  useEffect(() => { if (!browsing) setShown(latest); }, [latest, browsing]);
  const iterations = shown.stored_iterations.length ? shown.stored_iterations : [shown.iteration];
  const at = Math.max(0, iterations.indexOf(shown.iteration));
  const title = `${shown.metric} / ${shown.variant}`;
  const go = (iteration: number) => {
    setNote(null);
    api.plots(experiment.id, { metric: latest.metric, variant: latest.variant, iteration }).then((answer) => {
      const found = answer.plots[0];
      if (!found) { setNote(`No plot at iteration ${iteration}.`); return; }
      setShown(found);
      setBrowsing(found.iteration !== latest.iteration);
    }, (e: unknown) => setNote(e instanceof Error ? e.message : String(e)));
  };
  const isHistogram = shown.kind === "histogram";
  useEffect(() => {
    if (!isHistogram || !overTime) return;
    api.plots(experiment.id, { metric: latest.metric, variant: latest.variant, history: HISTORY }).then((answer) => {
      setHistory(answer.plots.map((p) => histogramOf(p.iteration, p.figure as unknown as PlotlyFigure)).filter((h): h is Histogram => h !== null));
    }, (e: unknown) => setNote(e instanceof Error ? e.message : String(e)));
  }, [isHistogram, overTime, experiment.id, latest]); // eslint-disable-line react-hooks/exhaustive-deps

  const figure = shown.figure as unknown as PlotlyFigure;
  const isTable = (figure.data?.[0] as { type?: string } | undefined)?.type === "table";
  const drawn = useMemo<PlotlyFigure>(() => { // the same object until what it shows changes: no redraw on a refresh
    if (shown.kind === "confusion_matrix") return confusionFigure(figure, mode);
    if (isHistogram && overTime && history) {
      const style = getComputedStyle(document.documentElement);
      const accent = style.getPropertyValue("--accent").trim() || "#2563eb";
      return ridgeline(history, { line: style.getPropertyValue("--panel").trim() || "#fff", fill: (t) => fade(accent, 0.25 + 0.6 * t) }); // older ridges fainter
    }
    return figure;
  }, [shown, mode, overTime, history]); // eslint-disable-line react-hooks/exhaustive-deps
  const base = fileBase(experiment.name || experiment.id, shown.metric, shown.variant, `iter${shown.iteration}`);
  const pickId = `pick-${fileBase(shown.metric, shown.variant)}`;
  const png = () => {
    const el = graph.current;
    if (!el) return;
    void loadPlotly().then((p) => p.toImage(el, { format: "png", scale: 2 })).then((url) => fetch(url)).then((r) => r.blob()).then((b) => download(`${base}.png`, b));
  };
  const embed = useEmbed(() => ({ objects: experiment.id, type: "plot", metrics: shown.metric, variants: shown.variant, ...(browsing ? { iteration: String(shown.iteration) } : {}) }));
  return (
    <div>
      <div className="plot-controls">
        <button type="button" aria-label={`Previous iteration of ${title}`} disabled={at === 0} onClick={() => iterations[at - 1] !== undefined && go(iterations[at - 1]!)}>‹</button>
        <label className="visually-hidden" htmlFor={pickId}>Iteration of {title}</label>
        <select id={pickId} value={shown.iteration} disabled={iterations.length < 2 || (isHistogram && overTime)} onChange={(e) => go(Number(e.target.value))}>
          {iterations.map((i) => <option key={i} value={i}>iteration {i}</option>)}
        </select>
        <button type="button" aria-label={`Next iteration of ${title}`} disabled={at >= iterations.length - 1} onClick={() => iterations[at + 1] !== undefined && go(iterations[at + 1]!)}>›</button>
        {shown.kind === "confusion_matrix" && (
          <label className="inline-label">Show
            <select value={mode} onChange={(e) => setMode(e.target.value as ConfusionMode)}>
              <option value="counts">counts</option>
              <option value="row">% by row (actual)</option>
              <option value="column">% by column (predicted)</option>
            </select>
          </label>
        )}
        {isHistogram && (
          <label className="check-label"><input type="checkbox" checked={overTime} onChange={(e) => setOverTime(e.target.checked)} />over time (3-D)</label>
        )}
      </div>
      {browsing && (
        <p className="muted small" role="status">
          Showing iteration {shown.iteration}: new plots are not shown while you browse. <button type="button" className="link" onClick={() => setBrowsing(false)}>Follow the latest</button>
        </p>
      )}
      {note && <p role="alert" className="notice small">{note}</p>}
      {isTable ? <PlotTable figure={figure} title={title} /> : (
        <PlotlyView figure={drawn} label={`${title}${isHistogram && overTime ? ", over time" : `, iteration ${shown.iteration}`}`} graph={graph}
          state={isHistogram && overTime ? (history ? `history:${history.length}` : "loading") : `iteration:${shown.iteration}`} />
      )}
      <div className="chart-actions">
        <span className="muted small">{isHistogram && overTime && history ? `${history.length} iterations` : `iteration ${shown.iteration}`} · {shown.iterations} logged · {datetime(shown.ts)}</span>
        {!isTable && <button type="button" onClick={png}>PNG</button>}
        <button type="button" onClick={() => download(`${base}.csv`, new Blob([figureCsv(shown.kind, figure)], { type: "text/csv" }))}>CSV</button>
        <button type="button" onClick={() => download(`${base}.json`, new Blob([JSON.stringify(shown, null, 1)], { type: "application/json" }))}>JSON</button>
        {embed.button}
      </div>
      {embed.box}
    </div>
  );
}

/** A logged table as an HTML table (readable in both themes, selectable, searchable with the
 * browser's find), scrolled inside the card. */
export function PlotTable({ figure, title }: { figure: PlotlyFigure; title: string }) {
  const trace = (figure.data[0] ?? {}) as { header?: { values?: unknown[] }; cells?: { values?: unknown[][] } };
  const header = (trace.header?.values ?? []).map(String);
  const columns = trace.cells?.values ?? [];
  const n = Math.max(0, ...columns.map((c) => c.length));
  const LIMIT = 2000;
  return (
    <div className="plot-table" tabIndex={0} role="region" aria-label={`Table ${title}`}>
      <table>
        <thead><tr>{header.map((h, i) => <th key={i} scope="col">{h}</th>)}</tr></thead>
        <tbody>
          {Array.from({ length: Math.min(n, LIMIT) }, (_, r) => (
            <tr key={r}>{columns.map((c, i) => <td key={i} className={typeof c[r] === "number" ? "num" : undefined}>{c[r] === null || c[r] === undefined ? "" : String(c[r])}</td>)}</tr>
          ))}
        </tbody>
      </table>
      {n > LIMIT && <p className="muted small">The first {LIMIT} of {n} rows are shown; CSV has them all.</p>}
    </div>
  );
}
