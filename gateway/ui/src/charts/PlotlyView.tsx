// A Plotly figure drawn in the page's theme (plotly.js loaded on first use). What it drew is on
// the element's ``data`` (Plotly's own), and data-state says when it is drawn: tests read both.
import { useEffect, useRef, useState, type RefObject } from "react";
import { CONFIG, loadPlotly, themed, type PlotlyFigure } from "./plotly";

export function PlotlyView({ figure, label, graph, state, height }: {
  figure: PlotlyFigure; label: string; graph?: RefObject<HTMLDivElement>; state: string; height?: number;
}) {
  const own = useRef<HTMLDivElement>(null);
  const box = graph ?? own;
  const [problem, setProblem] = useState<string | null>(null);
  const [drawn, setDrawn] = useState("");
  useEffect(() => {
    let current = true;
    const el = box.current;
    if (!el) return;
    setDrawn("");
    loadPlotly()
      .then((p) => (current ? p.react(el, figure.data ?? [], themed(figure.layout, height), CONFIG) : undefined))
      .then(() => current && setDrawn(state))
      .catch((e: unknown) => current && setProblem(e instanceof Error ? e.message : String(e)));
    return () => { current = false; };
  }, [figure, state, box, height]);
  useEffect(() => () => { const el = box.current; if (el) void loadPlotly().then((p) => p.purge(el)); }, [box]);
  if (problem) return <p role="alert" className="notice">{problem}</p>;
  return <div ref={box} className="plotly-view" role="figure" aria-label={label} data-state={drawn || "drawing"} />;
}
