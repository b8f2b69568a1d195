// Plotly, loaded only when a plot is shown: the gateway serves plotly.js itself (the same file
// the /widget/ pages use), so nothing comes from another origin. Figures are drawn with the
// page's theme; nothing that needs WebGL is ever asked of it.
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
}

export interface PlotlyApi {
  react(el: HTMLElement, data: unknown[], layout: Record<string, unknown>, config: Record<string, unknown>): Promise<unknown>;
  purge(el: HTMLElement): void;
  toImage(el: HTMLElement, options: { format: "png"; width?: number; height?: number; scale?: number }): Promise<string>;
  Plots: { resize(el: HTMLElement): void };
}

let loading: Promise<PlotlyApi> | null = null;

export function loadPlotly(): Promise<PlotlyApi> {
  const ready = (window as unknown as { Plotly?: PlotlyApi }).Plotly;
  if (ready) return Promise.resolve(ready);
  loading ??= new Promise<PlotlyApi>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/widget/static/plotly.js"; // redirects to the content-hashed file
    script.async = true;
    script.onload = () => {
      const api = (window as unknown as { Plotly?: PlotlyApi }).Plotly;
      if (api) resolve(api);
      else reject(new Error("plotly.js loaded but did not start"));
    };
    script.onerror = () => { loading = null; reject(new Error("could not load plotly.js from the gateway: reload to try again")); };
    document.head.appendChild(script);
  });
  return loading;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** The figure's layout in the page's colours; what the figure set itself is kept. */
export function themed(layout: Record<string, unknown> = {}, height = 320): Record<string, unknown> {
  const text = cssVar("--text", "#222");
  const line = cssVar("--line", "#ddd");
  const axis = (a: unknown) => ({ gridcolor: line, zerolinecolor: line, linecolor: line, automargin: true, ...(a as object | undefined) });
  return {
    ...layout,
    title: undefined, // the card's heading says it
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: text, size: 12, ...(layout.font as object | undefined) },
    height: (layout.height as number | undefined) ?? height,
    autosize: true,
    width: undefined,
    margin: { l: 56, r: 16, t: 16, b: 48, ...(layout.margin as object | undefined) },
    legend: { orientation: "h", y: -0.22, ...(layout.legend as object | undefined) },
    xaxis: axis(layout.xaxis),
    yaxis: axis(layout.yaxis),
  };
}

// No "share to the cloud" button: nothing of a run leaves for another site from a click.
export const CONFIG = { displaylogo: false, responsive: true, showSendToCloud: false, modeBarButtonsToRemove: ["toImage", "sendDataToCloud", "sendChartToCloud"] };
