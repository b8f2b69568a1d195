// One scalar chart drawn by uPlot (canvas): each series as its line (the buckets' mean) inside
// its min/max band, so a spike never vanishes however far out one looks; a smoothed line over
// the full-fidelity one, which stays faint behind; a log scale; a crosshair shared by the charts
// of a view with the values at it in the legend; drag to zoom (the owner fetches that range at
// full resolution), double-click to go back. What is drawn is on the element's data-*
// attributes, so tests read what the chart shows rather than pixels.
import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { number } from "../format";
import { extreme, fade, join, robustRange, smooth, type Num, type Points, type Smoother } from "./series";

export interface ChartSeries extends Points {
  name: string;
  colour: string;
}

export interface ChartOptions {
  smoothing: number; // 0 … 0.999
  smoother: Smoother;
  band: boolean;
  log: boolean;
  xLabel: string;
  time: boolean; // x is wall-clock seconds
  ignoreOutliers?: boolean; // the y-axis spans the lines' 2nd to 98th percentiles, not their extremes
}

const HEIGHT = 240;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

export function ScalarChart({ title, series, options, sync, onZoom, onReset, zoomed }: {
  title: string;
  series: ChartSeries[];
  options: ChartOptions;
  sync: string;
  onZoom: (min: number, max: number) => void;
  onReset: () => void;
  zoomed: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [cursor, setCursor] = useState<number | null>(null);
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;
  const resetRef = useRef(onReset);
  resetRef.current = onReset;

  const drawn = useMemo(() => {
    const joined = join(series);
    const positive = (a: Num[]) => (options.log ? a.map((v) => (v !== null && v > 0 ? v : null)) : a);
    const line = joined.line.map((l) => positive(smooth(l, options.smoothing, options.smoother)));
    return {
      x: joined.x,
      raw: joined.line.map(positive),
      line,
      min: joined.min.map(positive),
      max: joined.max.map(positive),
    };
  }, [series, options.smoothing, options.smoother, options.log]);

  // uPlot's series: x, then per series its line, and (when shown) its raw line and band edges
  const layout = useMemo(() => {
    const out: { kind: "line" | "raw" | "hi" | "lo"; k: number }[] = [];
    series.forEach((_, k) => {
      out.push({ kind: "line", k });
      if (options.smoothing > 0) out.push({ kind: "raw", k });
      if (options.band) out.push({ kind: "hi", k }, { kind: "lo", k });
    });
    return out;
  }, [series, options.smoothing, options.band]);

  const yRange = useMemo(
    () => (options.ignoreOutliers && !options.log ? robustRange(drawn.line) : null),
    [drawn, options.ignoreOutliers, options.log],
  );

  useEffect(() => {
    const target = box.current;
    if (!target) return;
    const muted = cssVar("--muted");
    const grid = cssVar("--line");
    const uSeries: uPlot.Series[] = [{ label: options.xLabel }];
    const bands: uPlot.Band[] = [];
    layout.forEach(({ kind, k }, i) => {
      const s = series[k]!;
      const show = !hidden.has(s.name);
      if (kind === "line") uSeries.push({ label: s.name, stroke: s.colour, width: 1.6, spanGaps: true, show, points: { show: false } });
      if (kind === "raw") uSeries.push({ label: `${s.name} (raw)`, stroke: fade(s.colour, 0.3), width: 1, spanGaps: true, show, points: { show: false } });
      if (kind === "hi") uSeries.push({ label: `${s.name} max`, stroke: "transparent", width: 0, spanGaps: true, show, points: { show: false } });
      if (kind === "lo") {
        uSeries.push({ label: `${s.name} min`, stroke: "transparent", width: 0, spanGaps: true, show, points: { show: false } });
        bands.push({ series: [i, i + 1], fill: fade(s.colour, 0.18) }); // uPlot indexes from x = 0
      }
    });
    const data: uPlot.AlignedData = [
      drawn.x,
      ...layout.map(({ kind, k }) => (kind === "line" ? drawn.line : kind === "raw" ? drawn.raw : kind === "hi" ? drawn.max : drawn.min)[k]!),
    ] as uPlot.AlignedData;
    const opts: uPlot.Options = {
      width: Math.max(200, target.clientWidth),
      height: HEIGHT,
      legend: { show: false },
      scales: {
        x: { time: options.time },
        y: { distr: options.log ? 3 : 1, ...(yRange ? { range: (): uPlot.Range.MinMax => yRange } : {}) },
      },
      axes: [
        { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, label: options.xLabel, labelSize: 18, labelFont: "12px system-ui, sans-serif" },
        { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 60, values: (_u, ticks) => ticks.map((t) => number(t)) },
      ],
      series: uSeries,
      bands,
      cursor: {
        sync: { key: sync },
        drag: { x: true, y: false, setScale: false },
      },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width > 3) {
            const lo = u.posToVal(u.select.left, "x");
            const hi = u.posToVal(u.select.left + u.select.width, "x");
            zoomRef.current(lo, hi);
          }
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        }],
        setCursor: [(u) => setCursor(u.cursor.idx ?? null)],
      },
    };
    plot.current?.destroy();
    const u = new uPlot(opts, data, target);
    plot.current = u;
    const reset = () => resetRef.current();
    u.over.addEventListener("dblclick", reset);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, target.clientWidth), height: HEIGHT }));
    resize.observe(target);
    return () => {
      resize.disconnect();
      u.over.removeEventListener("dblclick", reset);
      u.destroy();
      plot.current = null;
    };
  }, [drawn, layout, hidden, yRange, options.time, options.log, options.xLabel, sync]); // eslint-disable-line react-hooks/exhaustive-deps

  const shownMax = drawn.max.filter((_, k) => !hidden.has(series[k]!.name));
  const shownMin = drawn.min.filter((_, k) => !hidden.has(series[k]!.name));
  const at = cursor ?? drawn.x.length - 1;
  return (
    <div
      className="scalar-chart" data-title={title} data-series={series.length} data-points={drawn.x.length}
      data-x-min={drawn.x[0] ?? ""} data-x-max={drawn.x[drawn.x.length - 1] ?? ""}
      data-band-max={options.band ? extreme(shownMax, "max") ?? "" : ""} data-band-min={options.band ? extreme(shownMin, "min") ?? "" : ""}
      data-line={JSON.stringify(drawn.line[0]?.slice(-20) ?? [])} data-smoothing={options.smoothing} data-zoomed={zoomed}
      data-layers={layout.map((l) => l.kind).join(",")} data-y-range={yRange ? yRange.join(",") : ""}
    >
      <div ref={box} className="plot" role="img" aria-label={`${title}: ${series.map((s) => s.name).join(", ")}`} />
      <ul className="legend" aria-label={`Series of ${title}`}>
        {series.map((s, k) => {
          const values = drawn.line[k] ?? [];
          let v = values[at];
          if (cursor === null) { // no crosshair: the series' latest value
            for (let i = values.length - 1; i >= 0 && (v === null || v === undefined); i -= 1) v = values[i];
          }
          return (
            <li key={s.name}>
              <button type="button" aria-pressed={!hidden.has(s.name)} title="Show or hide this series" onClick={() => setHidden((h) => {
                const next = new Set(h);
                if (next.has(s.name)) next.delete(s.name); else next.add(s.name);
                return next;
              })}>
                <span className="swatch" style={{ background: s.colour }} aria-hidden="true" />{s.name}
              </button>
              <span className="legend-value">{v === null || v === undefined ? "—" : number(v)}</span>
            </li>
          );
        })}
        {cursor !== null && drawn.x[at] !== undefined && <li className="muted">at {options.xLabel} {number(drawn.x[at])}</li>}
      </ul>
    </div>
  );
}
