// The project panels above the experiments table: charts over the runs the table's filter
// matches, less those hidden with the eye in their row. Add, edit, reorder and remove panels;
// runs named by name or id; refreshed every 10 s unless switched off. Bars, scatters and
// parallel coordinates are drawn with Plotly (SVG, no WebGL) from each run's column values; a
// line panel overlays a metric's series of the first runs with uPlot, on one bucket grid.
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError, api, type Experiment } from "../api";
import { PlotlyView } from "../charts/PlotlyView";
import { ScalarChart, type ChartSeries } from "../charts/ScalarChart";
import { colourOf } from "../format";
import { useTick } from "../live";
import { Dialog } from "../ui/Dialog";
import { label as columnLabel } from "./querylang";
import { drawable } from "../charts/series";
import {
  AGGREGATIONS, KINDS, LINE_RUNS, barData, panelColumns, parallelFigure, readPanels, scatterData, writePanels,
  type Aggregation, type Panel, type PanelKind, type PanelRow,
} from "./panels";

const ROWS = 500; // the runs a panel draws (the table's first, in its order)
const KIND_NAMES: Record<PanelKind, string> = { line: "Line: a series across runs", bar: "Bar", scatter: "Scatter", parcoords: "Parallel coordinates" };
const XAXES = { iter: "iteration", relative: "relative time", wall: "wall time" } as const;

export function ProjectPanels({ params, identifiers, raw, hidden, labels, still, onChange }: {
  params: Record<string, string | boolean>;
  identifiers: string[];
  raw: string;
  hidden: string[];
  labels: "name" | "id";
  still: boolean;
  onChange: (change: { panels?: string; labels?: "name" | "id"; still?: boolean }) => void;
}) {
  const panels = useMemo(() => readPanels(raw), [raw]);
  const tick = useTick();
  const [rows, setRows] = useState<PanelRow[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [editing, setEditing] = useState<number | null>(null); // an index, or panels.length for a new one
  const wanted = [...new Set(panels.flatMap(panelColumns))].filter((c) => !c.startsWith("attributes."));
  useEffect(() => {
    if (!panels.length) return;
    api.experiments({ ...params, columns: wanted.join(","), page_size: ROWS }).then((page) => {
      setRows(page.experiments.filter((e) => !hidden.includes(e.id)).map((e: Experiment) => ({
        id: e.id, name: e.name || e.id, columns: { ...(e.columns as Record<string, unknown> | undefined), "attributes.user": e.user },
      })));
      setProblem(null);
    }, (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e)));
  }, [JSON.stringify(params), wanted.join(","), hidden.join(","), still ? 0 : Math.floor(tick / 5)]); // eslint-disable-line react-hooks/exhaustive-deps
  const save = (next: Panel[]) => onChange({ panels: writePanels(next) });
  const name = useCallback((r: PanelRow) => (labels === "id" ? r.id.slice(0, 8) : r.name), [labels]); // stable: the line panels fetch on change only
  return (
    <section className="panels" aria-label="Project panels">
      <div className="toolbar">
        <button type="button" onClick={() => setEditing(panels.length)}>+ Add panel</button>
        {panels.length > 0 && (
          <>
            <label className="inline-label">Name runs by
              <select value={labels} onChange={(e) => onChange({ labels: e.target.value as "name" | "id" })}>
                <option value="name">name</option>
                <option value="id">id</option>
              </select>
            </label>
            <label className="check-label"><input type="checkbox" checked={!still} onChange={(e) => onChange({ still: !e.target.checked })} />refresh every 10 s</label>
            <span className="muted small">{rows ? `${rows.length} run${rows.length === 1 ? "" : "s"}${rows.length >= ROWS ? ` (the first ${ROWS})` : ""}${hidden.length ? `, ${hidden.length} hidden` : ""}` : ""}</span>
          </>
        )}
        {problem && <span role="alert" className="error">{problem}</span>}
      </div>
      {panels.length > 0 && (
        <div className="panel-grid">
          {panels.map((panel, i) => (
            <section key={i} className="chart-frame" aria-label={`Panel ${i + 1}: ${title(panel)}`}>
              <div className="title-row">
                <h3 title={title(panel)}>{title(panel)}</h3>
                <button type="button" aria-label={`Move panel ${i + 1} earlier`} disabled={i === 0} onClick={() => save(move(panels, i, -1))}>←</button>
                <button type="button" aria-label={`Move panel ${i + 1} later`} disabled={i === panels.length - 1} onClick={() => save(move(panels, i, 1))}>→</button>
                <button type="button" onClick={() => setEditing(i)} aria-label={`Edit panel ${i + 1}`}>Edit</button>
                <button type="button" onClick={() => save(panels.filter((_, k) => k !== i))} aria-label={`Remove panel ${i + 1}`}>Remove</button>
              </div>
              {rows === null ? <div className="chart-placeholder" aria-busy="true" /> : <PanelChart panel={panel} rows={rows} name={name} index={i} />}
            </section>
          ))}
        </div>
      )}
      {editing !== null && (
        <PanelForm
          panel={panels[editing]} identifiers={identifiers} onClose={() => setEditing(null)}
          onSave={(p) => { save(editing < panels.length ? panels.map((q, k) => (k === editing ? p : q)) : [...panels, p]); setEditing(null); }}
        />
      )}
    </section>
  );
}

function move(panels: Panel[], i: number, by: number): Panel[] {
  const next = [...panels];
  const [p] = next.splice(i, 1);
  next.splice(i + by, 0, p!);
  return next;
}

function title(p: Panel): string {
  switch (p.kind) {
    case "line": return `${columnLabel(p.y)} by ${XAXES[p.x as keyof typeof XAXES] ?? p.x}`;
    case "bar": return p.x === "run" ? `${columnLabel(p.y)} by run` : `${p.agg} of ${columnLabel(p.y)} by ${columnLabel(p.x)}`;
    case "scatter": return `${columnLabel(p.y)} against ${columnLabel(p.x)}`;
    case "parcoords": return `${p.x.split(",").filter(Boolean).map(columnLabel).join(", ")} → ${columnLabel(p.y)}`;
  }
}

function PanelChart({ panel, rows, name, index }: { panel: Panel; rows: PanelRow[]; name: (r: PanelRow) => string; index: number }) {
  const figure = useMemo(() => {
    const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#1f5fbf";
    if (panel.kind === "bar") {
      const bars = barData(rows, panel, name);
      return {
        data: [{ type: "bar", x: bars.x, y: bars.y, marker: { color: accent }, customdata: bars.runs,
          hovertemplate: panel.x === "run" ? "%{x}<br>%{y:.4~g}<extra></extra>" : `%{x}<br>${panel.agg} %{y:.4~g}<br>%{customdata} runs<extra></extra>` }],
        layout: { xaxis: { type: "category", title: { text: panel.x === "run" ? "run" : columnLabel(panel.x) } }, yaxis: { title: { text: columnLabel(panel.y) } } },
      };
    }
    if (panel.kind === "scatter") {
      const points = scatterData(rows, panel, name);
      return {
        data: [{ type: "scatter", mode: "markers", x: points.x, y: points.y, text: points.names, marker: { color: accent, size: 8 },
          hovertemplate: "%{text}<br>%{x}, %{y}<extra></extra>" }],
        layout: { xaxis: { title: { text: columnLabel(panel.x) } }, yaxis: { title: { text: columnLabel(panel.y) } }, hovermode: "closest" },
      };
    }
    const axes = [...panel.x.split(",").filter(Boolean), panel.y];
    return parallelFigure(rows, axes, { label: columnLabel, name, colour: colourOf });
  }, [panel, rows, name]);
  if (panel.kind === "line") return <LinePanel panel={panel} rows={rows} name={name} index={index} />;
  if (!rows.length) return <p className="muted">No runs to draw: the filter matches none, or every one is hidden.</p>;
  return <PlotlyView figure={figure} label={`Panel ${index + 1} chart`} state={`runs:${rows.length}`} height={280} />;
}

function labelOf(rows: PanelRow[], id: string, name: (r: PanelRow) => string): string {
  const row = rows.find((r) => r.id === id);
  return row ? name(row) : id;
}

/** A metric's series of the first runs shown, overlaid (a colour per run, the table's). */
function LinePanel({ panel, rows, name, index }: { panel: Panel; rows: PanelRow[]; name: (r: PanelRow) => string; index: number }) {
  const [series, setSeries] = useState<ChartSeries[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const runs = rows.slice(0, LINE_RUNS);
  const [metric, variant] = splitMetric(panel.y);
  const xaxis = panel.x as "iter" | "relative" | "wall";
  useEffect(() => {
    let current = true;
    const shape = (id: string, s: { x: number[]; mean: unknown[]; min: unknown[]; max: unknown[] }): ChartSeries => ({
      name: labelOf(runs, id, name), colour: colourOf(id), x: s.x,
      line: drawable(s.mean), min: drawable(s.min), max: drawable(s.max),
    });
    const done = (all: ChartSeries[]) => { if (current) { setSeries(all); setProblem(null); } };
    const failed = (e: unknown) => current && setProblem(e instanceof ApiError ? e.message : String(e));
    if (!runs.length) done([]);
    else if (runs.length === 1) {
      api.scalars(runs[0]!.id, { metric, variant, xaxis }).then((a) => done(a.series.map((s) => shape(runs[0]!.id, s))), failed);
    } else {
      api.compare({ ids: runs.map((r) => r.id).join(","), metric, variant, xaxis }).then(
        (c) => done((c.scalars ?? []).filter((s) => s.x.length).map((s) => shape(s.experiment_id, s))), failed,
      );
    }
    return () => { current = false; };
  }, [runs.map((r) => r.id).join(","), metric, variant, xaxis, name]); // eslint-disable-line react-hooks/exhaustive-deps
  if (problem) return <p role="alert" className="notice">{problem}</p>;
  if (!series) return <div className="chart-placeholder" aria-busy="true" />;
  if (!series.length) return <p className="muted">None of these runs has {metric}/{variant}.</p>;
  return (
    <>
      <ScalarChart
        title={`Panel ${index + 1}`} series={series} sync={`panels-${index}`} zoomed={false} onZoom={() => undefined} onReset={() => undefined}
        options={{ smoothing: panel.smooth ?? 0, smoother: "ema", band: true, log: false, xLabel: XAXES[xaxis], time: xaxis === "wall", ignoreOutliers: panel.outliers }}
      />
      {rows.length > LINE_RUNS && <p className="muted small">The first {LINE_RUNS} runs of the table, as in Compare.</p>}
    </>
  );
}

function splitMetric(identifier: string): [string, string] {
  const body = identifier.replace(/^metrics\./, "").replace(/`/g, "");
  const slash = body.lastIndexOf("/");
  return slash < 0 ? [body, body] : [body.slice(0, slash), body.slice(slash + 1)];
}

/** Adds or edits a panel: its kind, then what it draws. */
function PanelForm({ panel, identifiers, onSave, onClose }: {
  panel: Panel | undefined; identifiers: string[]; onSave: (p: Panel) => void; onClose: () => void;
}) {
  const series = identifiers.filter((i) => i.startsWith("metrics.")); // each metric's last value; and its min and max:
  const metrics = series.flatMap((m) => [m, `${m}.min`, `${m}.max`]);
  const params = identifiers.filter((i) => i.startsWith("params."));
  const values = [...metrics, ...params];
  const [kind, setKind] = useState<PanelKind>(panel?.kind ?? "bar");
  const [y, setY] = useState(panel?.y ?? (kind === "line" ? series[0] : metrics[0]) ?? "");
  const [x, setX] = useState(panel?.x ?? "run");
  const [agg, setAgg] = useState<Aggregation>(panel?.agg ?? "avg");
  const [axes, setAxes] = useState<string[]>(panel?.kind === "parcoords" ? panel.x.split(",").filter(Boolean) : params.slice(0, 3));
  const [smooth, setSmooth] = useState(panel?.smooth ?? 0);
  const [outliers, setOutliers] = useState(panel?.outliers ?? false);
  const choose = (k: PanelKind) => {
    setKind(k);
    if (k === "line") { setX("iter"); setY(series.includes(y) ? y : series[0] ?? ""); }
    if (k === "bar") setX("run");
    if (k === "scatter") setX(params[0] ?? values[0] ?? "");
  };
  const submit = () => {
    if (kind === "parcoords") onSave({ kind, y, x: axes.join(","), agg });
    else if (kind === "line") onSave({ kind, y, x, agg, smooth, outliers });
    else onSave({ kind, y, x, agg });
  };
  const options = (list: string[]) => list.map((i) => <option key={i} value={i}>{columnLabel(i)}</option>);
  return (
    <Dialog title={panel ? "Edit the panel" : "Add a panel"} open onClose={onClose}>
      <form className="panel-form" onSubmit={(e) => { e.preventDefault(); submit(); }}>
        <label>Kind
          <select value={kind} onChange={(e) => choose(e.target.value as PanelKind)}>
            {KINDS.map((k) => <option key={k} value={k}>{KIND_NAMES[k]}</option>)}
          </select>
        </label>
        {kind === "line" && (
          <>
            <label>Metric<select value={y} onChange={(e) => setY(e.target.value)}>{options(series)}</select></label>
            <label>X-axis
              <select value={x} onChange={(e) => setX(e.target.value)}>
                {Object.entries(XAXES).map(([v, t]) => <option key={v} value={v}>{t}</option>)}
              </select>
            </label>
            <label>Smoothing (0 – 0.99)
              <input type="number" min={0} max={0.99} step={0.05} value={smooth} onChange={(e) => setSmooth(Math.min(0.99, Math.max(0, Number(e.target.value) || 0)))} />
            </label>
            <label className="check-label"><input type="checkbox" checked={outliers} onChange={(e) => setOutliers(e.target.checked)} />ignore outliers (scale to the 2nd–98th percentile)</label>
          </>
        )}
        {kind === "bar" && (
          <>
            <label>Value<select value={y} onChange={(e) => setY(e.target.value)}>{options(metrics)}</select></label>
            <label>Key by
              <select value={x} onChange={(e) => setX(e.target.value)}>
                <option value="run">run</option>
                {options([...params, "attributes.user"])}
              </select>
            </label>
            {x !== "run" && (
              <label>Aggregation
                <select value={agg} onChange={(e) => setAgg(e.target.value as Aggregation)}>
                  {AGGREGATIONS.map((a) => <option key={a} value={a}>{a === "std" ? "standard deviation" : a === "avg" ? "average" : a}</option>)}
                </select>
              </label>
            )}
          </>
        )}
        {kind === "scatter" && (
          <>
            <label>X<select value={x} onChange={(e) => setX(e.target.value)}>{options(values)}</select></label>
            <label>Y<select value={y} onChange={(e) => setY(e.target.value)}>{options(values)}</select></label>
          </>
        )}
        {kind === "parcoords" && (
          <>
            <fieldset className="axes">
              <legend>Axes (hyperparameters)</legend>
              {params.map((p) => (
                <label key={p} className="check-label">
                  <input type="checkbox" checked={axes.includes(p)} onChange={(e) => setAxes(e.target.checked ? [...axes, p] : axes.filter((a) => a !== p))} />{columnLabel(p)}
                </label>
              ))}
              {!params.length && <p className="muted">No hyperparameters in this project yet.</p>}
            </fieldset>
            <label>Metric<select value={y} onChange={(e) => setY(e.target.value)}>{options(metrics)}</select></label>
          </>
        )}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={!y || (kind === "parcoords" && !axes.length)}>{panel ? "Save" : "Add"}</button>
        </div>
      </form>
    </Dialog>
  );
}
