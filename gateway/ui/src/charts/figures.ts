// What the Plots tab draws, computed from the logged figures: a confusion matrix as counts or
// as percentages of its rows or columns; a histogram's bins over iterations as a ridgeline (the
// "3-D" view, drawn in 2-D so it needs no WebGL); and each kind as CSV.
import type { PlotlyFigure } from "./plotly";

type Matrix = (number | null)[][];
export type ConfusionMode = "counts" | "row" | "column";

export interface Histogram {
  iteration: number;
  edges: number[];
  counts: number[];
}

function matrixOf(figure: PlotlyFigure): { z: Matrix; x: string[]; y: string[] } {
  const trace = (figure.data[0] ?? {}) as { z?: Matrix; x?: unknown[]; y?: unknown[] };
  const z = trace.z ?? [];
  const labels = (v: unknown[] | undefined, n: number) => (v ?? Array.from({ length: n }, (_, i) => i)).map(String);
  return { z, x: labels(trace.x, z[0]?.length ?? 0), y: labels(trace.y, z.length) };
}

/** The matrix as counts, or each cell as the percentage of its row (recall) or column (precision). */
export function confusionFigure(figure: PlotlyFigure, mode: ConfusionMode): PlotlyFigure {
  const { z, x, y } = matrixOf(figure);
  const rowSums = z.map((row) => row.reduce<number>((a, v) => a + (v ?? 0), 0));
  const colSums = (z[0] ?? []).map((_, j) => z.reduce<number>((a, row) => a + (row[j] ?? 0), 0));
  const shown = z.map((row, i) => row.map((v, j) => {
    if (v === null || mode === "counts") return v;
    const total = mode === "row" ? rowSums[i]! : colSums[j]!;
    return total ? (100 * v) / total : 0;
  }));
  const text = shown.map((row, i) => row.map((v, j) => {
    if (v === null) return "";
    return mode === "counts" ? String(v) : `${v.toFixed(1)}%\n(${z[i]![j]})`;
  }));
  const unit = mode === "counts" ? "" : mode === "row" ? "% of the actual class" : "% of the predicted class";
  return {
    data: [{
      type: "heatmap", z: shown, x, y, text, texttemplate: "%{text}", colorscale: "Blues", reversescale: true, showscale: true, // plotly's Blues runs dark to light
      hovertemplate: `actual %{y}<br>predicted %{x}<br>%{z:.4~g}${unit ? " " + unit : ""}<extra></extra>`,
      zmin: 0, ...(mode === "counts" ? {} : { zmax: 100 }),
    }],
    layout: {
      xaxis: { title: { text: "predicted" }, type: "category" },
      yaxis: { title: { text: "actual" }, autorange: "reversed", type: "category" },
    },
  };
}

/** The bins of a figure logged by log_histogram (its raw ``histogram``), else of its first bar trace. */
export function histogramOf(iteration: number, figure: PlotlyFigure & { histogram?: { edges: number[]; counts: number[] } }): Histogram | null {
  if (figure.histogram?.edges?.length) return { iteration, edges: figure.histogram.edges, counts: figure.histogram.counts };
  const bar = figure.data.find((t) => t.type === "bar") as { x?: number[]; y?: number[]; width?: number[] } | undefined;
  if (!bar?.x?.length || !bar.y) return null;
  const widths = bar.width ?? bar.x.map((_, i) => (bar.x![Math.min(i + 1, bar.x!.length - 1)]! - bar.x![Math.max(i - 1, 0)]!) / (bar.x!.length > 1 ? 2 : 1) || 1);
  const edges = bar.x.map((c, i) => c - widths[i]! / 2);
  edges.push(bar.x[bar.x.length - 1]! + widths[widths.length - 1]! / 2);
  return { iteration, edges, counts: bar.y };
}

/** Each iteration's histogram as an outline lifted by its place in time: the oldest at the back
 * (top), the newest in front (bottom), shifted right a little so the steps read as depth. */
export function ridgeline(history: Histogram[], colours: { line: string; fill: (t: number) => string }): PlotlyFigure {
  const peak = Math.max(1, ...history.flatMap((h) => h.counts));
  const lo = Math.min(...history.map((h) => h.edges[0]!));
  const hi = Math.max(...history.map((h) => h.edges[h.edges.length - 1]!));
  const skew = (hi - lo) * 0.12 / Math.max(1, history.length - 1);
  const step = 1 / Math.max(4, history.length * 0.35); // a ridge's baseline step, peaks 1 high: they overlap like hills
  const traces = history.map((h, k) => {
    const back = history.length - 1 - k; // 0: the newest, in front
    const base = back * step;
    const xs: number[] = [h.edges[0]! + back * skew];
    const ys: number[] = [base];
    const text: string[] = [""];
    h.counts.forEach((c, i) => {
      const tip = `iteration ${h.iteration}<br>[${h.edges[i]!.toPrecision(4)}, ${h.edges[i + 1]!.toPrecision(4)}): ${c}`;
      xs.push(h.edges[i]! + back * skew, h.edges[i + 1]! + back * skew);
      ys.push(base + c / peak, base + c / peak);
      text.push(tip, tip);
    });
    xs.push(h.edges[h.edges.length - 1]! + back * skew);
    ys.push(base);
    text.push("");
    const t = history.length > 1 ? k / (history.length - 1) : 1;
    return {
      type: "scatter", mode: "lines", x: xs, y: ys, fill: "toself", fillcolor: colours.fill(t),
      line: { color: colours.line, width: 1 }, name: `iteration ${h.iteration}`, text, hoverinfo: "text", hoveron: "points",
    };
  });
  const labelled = history.length <= 12 ? history : history.filter((_, k) => k % Math.ceil(history.length / 10) === 0 || k === history.length - 1);
  return {
    data: traces, // the oldest (the back) first, so the newer ones are drawn over it
    layout: {
      showlegend: false,
      xaxis: { title: { text: "value" }, zeroline: false },
      yaxis: {
        title: { text: "iteration" }, zeroline: false, showgrid: false,
        tickvals: labelled.map((h) => (history.length - 1 - history.indexOf(h)) * step),
        ticktext: labelled.map((h) => String(h.iteration)),
      },
      hovermode: "closest",
    },
  };
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvOf(rows: unknown[][]): string {
  return rows.map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
}

/** A plot as CSV: a table's rows, a matrix with its labels, a histogram's bins, else each
 * trace's x and y. */
export function figureCsv(kind: string, figure: PlotlyFigure & { histogram?: { edges: number[]; counts: number[] } }): string {
  const first = (figure.data[0] ?? {}) as Record<string, unknown>;
  if (first.type === "table") {
    const header = ((first.header as { values?: unknown[] })?.values ?? []) as unknown[];
    const columns = ((first.cells as { values?: unknown[][] })?.values ?? []) as unknown[][];
    const n = Math.max(0, ...columns.map((c) => c.length));
    return csvOf([header, ...Array.from({ length: n }, (_, i) => columns.map((c) => c[i]))]);
  }
  if (kind === "confusion_matrix" || first.type === "heatmap") {
    const { z, x, y } = matrixOf(figure);
    return csvOf([["actual \\ predicted", ...x], ...z.map((row, i) => [y[i], ...row])]);
  }
  const h = histogramOf(0, figure);
  if (kind === "histogram" && h) return csvOf([["from", "to", "count"], ...h.counts.map((c, i) => [h.edges[i], h.edges[i + 1], c])]);
  const rows: unknown[][] = [["trace", "x", "y"]];
  figure.data.forEach((t, k) => {
    const xs = (t.x as unknown[] | undefined) ?? [];
    const ys = (t.y as unknown[] | undefined) ?? [];
    const name = (t.name as string | undefined) ?? `trace ${k}`;
    for (let i = 0; i < Math.max(xs.length, ys.length); i += 1) rows.push([name, xs[i], ys[i]]);
  });
  return csvOf(rows);
}
