// Project panels: charts over the experiments the table shows (its filter), drawn from each
// run's column values — a bar chart of a metric keyed by run or by a hyperparameter with an
// aggregation, a scatter of one value against another, parallel coordinates — or from their
// series: a metric's line across runs. Panels live in the URL (``panels``), so a link carries them.
export type PanelKind = "line" | "bar" | "scatter" | "parcoords";
export type Aggregation = "count" | "sum" | "avg" | "median" | "min" | "max" | "std";
export const AGGREGATIONS: Aggregation[] = ["avg", "median", "min", "max", "sum", "count", "std"];

export interface Panel {
  kind: PanelKind;
  y: string; // an identifier: metrics.loss/val.min, params.General/lr, … (line: metrics.<metric>/<variant>)
  x: string; // bar: "run" or the identifier to key by; scatter: the x identifier; parcoords: the axes,
  //            comma-separated; line: the x-axis, iter | relative | wall
  agg: Aggregation;
  smooth?: number; // line: EMA weight, 0 … 0.99
  outliers?: boolean; // line: the y-axis leaves out the outliers
}

export interface PanelRow {
  id: string;
  name: string;
  columns: Record<string, unknown>;
}

export const KINDS: PanelKind[] = ["line", "bar", "scatter", "parcoords"];
export const LINE_RUNS = 10; // a line panel draws the first runs shown, as Compare does

/** The panels of a URL parameter; whatever does not parse is left out. */
export function readPanels(raw: string | null): Panel[] {
  if (!raw) return [];
  try {
    const list = JSON.parse(raw) as unknown;
    if (!Array.isArray(list)) return [];
    return list.flatMap((p): Panel[] => {
      if (!p || typeof p !== "object") return [];
      const { kind, y, x, agg, smooth, outliers } = p as Record<string, unknown>;
      if (!KINDS.includes(kind as PanelKind) || typeof y !== "string" || typeof x !== "string") return [];
      const panel: Panel = { kind: kind as PanelKind, y, x, agg: AGGREGATIONS.includes(agg as Aggregation) ? agg as Aggregation : "avg" };
      if (kind === "line") {
        panel.x = ["iter", "relative", "wall"].includes(x) ? x : "iter";
        panel.smooth = typeof smooth === "number" ? Math.min(0.99, Math.max(0, smooth)) : 0;
        panel.outliers = outliers === true;
      }
      return [panel];
    }).slice(0, 12);
  } catch {
    return [];
  }
}

export function writePanels(panels: Panel[]): string {
  return panels.length ? JSON.stringify(panels) : "";
}

/** The identifiers a panel reads from each row. */
export function panelColumns(panel: Panel): string[] {
  if (panel.kind === "line") return [];
  const xs = panel.kind === "parcoords" ? panel.x.split(",").filter(Boolean) : panel.x === "run" ? [] : [panel.x];
  return [...xs, panel.y];
}

/** A number, from a number or from text that is one (hyperparameters are stored as text). */
export function numeric(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return null;
}

export function aggregate(values: number[], agg: Aggregation): number | null {
  if (agg === "count") return values.length;
  if (!values.length) return null;
  const sum = values.reduce((a, v) => a + v, 0);
  const mean = sum / values.length;
  switch (agg) {
    case "sum": return sum;
    case "avg": return mean;
    case "min": return Math.min(...values);
    case "max": return Math.max(...values);
    case "median": {
      const s = [...values].sort((a, b) => a - b);
      const mid = Math.floor(s.length / 2);
      return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
    }
    case "std": return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
  }
}

/** Bars: one per run, or one per value of the key (ordered numerically when they all are
 * numbers), each the aggregation of the y values of its runs. */
export function barData(rows: PanelRow[], panel: Panel, label: (r: PanelRow) => string): { x: string[]; y: (number | null)[]; runs: number[] } {
  if (panel.x === "run") {
    const shown = rows.filter((r) => numeric(r.columns[panel.y]) !== null);
    return { x: shown.map(label), y: shown.map((r) => numeric(r.columns[panel.y])), runs: shown.map(() => 1) };
  }
  const groups = new Map<string, number[]>();
  const members = new Map<string, number>();
  for (const r of rows) {
    const key = r.columns[panel.x];
    if (key === undefined || key === null) continue;
    const k = String(key);
    const v = numeric(r.columns[panel.y]);
    members.set(k, (members.get(k) ?? 0) + 1);
    if (!groups.has(k)) groups.set(k, []);
    if (v !== null) groups.get(k)!.push(v);
  }
  const keys = [...groups.keys()];
  const allNumbers = keys.every((k) => numeric(k) !== null);
  keys.sort(allNumbers ? (a, b) => Number(a) - Number(b) : (a, b) => a.localeCompare(b));
  return { x: keys, y: keys.map((k) => aggregate(groups.get(k)!, panel.agg)), runs: keys.map((k) => members.get(k) ?? 0) };
}

/** Points of a scatter: the runs with both values (text values stay categories on their axis). */
export function scatterData(rows: PanelRow[], panel: Panel, label: (r: PanelRow) => string): { x: unknown[]; y: unknown[]; names: string[] } {
  const shown = rows.filter((r) => r.columns[panel.x] !== undefined && r.columns[panel.x] !== null && r.columns[panel.y] !== undefined && r.columns[panel.y] !== null);
  const value = (v: unknown) => numeric(v) ?? String(v);
  return { x: shown.map((r) => value(r.columns[panel.x])), y: shown.map((r) => value(r.columns[panel.y])), names: shown.map(label) };
}

/** Parallel coordinates as 2-D lines (nothing that needs WebGL): each axis scaled to [0, 1]
 * between its extremes, a categorical one spaced by category; a line per run. */
export function parallelLines(rows: PanelRow[], axes: string[]): { axes: { id: string; ticks: [number, string][] }[]; lines: { name: string; id: string; y: (number | null)[]; raw: unknown[] }[] } {
  const scaled = axes.map((id) => {
    const values = rows.map((r) => r.columns[id]);
    const present = values.filter((v) => v !== undefined && v !== null);
    const numbers = present.map(numeric);
    if (present.length && numbers.every((n) => n !== null)) {
      const lo = Math.min(...(numbers as number[]));
      const hi = Math.max(...(numbers as number[]));
      const at = (v: unknown) => { const n = numeric(v); return n === null ? null : hi === lo ? 0.5 : (n - lo) / (hi - lo); };
      const text = (v: number) => String(Number(v.toPrecision(4)));
      return { id, at, ticks: (hi === lo ? [[0.5, text(lo)]] : [[0, text(lo)], [1, text(hi)]]) as [number, string][] };
    }
    const categories = [...new Set(present.map(String))].sort();
    const step = categories.length > 1 ? 1 / (categories.length - 1) : 0;
    const at = (v: unknown) => (v === undefined || v === null ? null : categories.length > 1 ? categories.indexOf(String(v)) * step : 0.5);
    return { id, at, ticks: categories.map((c, i) => [categories.length > 1 ? i * step : 0.5, c] as [number, string]) };
  });
  return {
    axes: scaled.map((s) => ({ id: s.id, ticks: s.ticks })),
    lines: rows.map((r) => ({ name: r.name, id: r.id, y: scaled.map((s) => s.at(r.columns[s.id])), raw: axes.map((a) => r.columns[a]) })),
  };
}

/** Parallel coordinates drawn by Plotly in 2-D: a line per run in ``colour(id)``, each axis a
 * vertical rule with its extremes (or categories) written beside it. */
export function parallelFigure(
  rows: PanelRow[], axes: string[], options: { label: (axis: string) => string; name: (row: PanelRow) => string; colour: (id: string) => string; width?: number },
): { data: Record<string, unknown>[]; layout: Record<string, unknown> } {
  const par = parallelLines(rows, axes);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return {
    data: par.lines.map((l) => ({
      type: "scatter", mode: "lines+markers", x: axes.map((_, i) => i), y: l.y, name: options.name(byId.get(l.id)!),
      line: { color: options.colour(l.id), width: options.width ?? 2 }, marker: { size: 5 },
      text: axes.map((a, i) => `${options.label(a)}: ${l.raw[i] ?? "—"}`), hovertemplate: "%{fullData.name}<br>%{text}<extra></extra>",
    })),
    layout: {
      showlegend: false, hovermode: "closest",
      shapes: axes.map((_, i) => ({ type: "line", x0: i, x1: i, y0: 0, y1: 1, line: { color: "rgba(128,128,128,0.7)", width: 1 } })),
      annotations: par.axes.flatMap((a, i) => a.ticks.map(([y, t]) => ({ x: i, y, text: t, showarrow: false, xanchor: "left", xshift: 4, font: { size: 10 } }))),
      xaxis: { tickvals: axes.map((_, i) => i), ticktext: axes.map(options.label), range: [-0.2, axes.length - 0.5], showgrid: false, zeroline: false },
      yaxis: { visible: false, range: [-0.05, 1.05] },
    },
  };
}
