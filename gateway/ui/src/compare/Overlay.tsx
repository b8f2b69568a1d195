// One metric of the compared experiments overlaid, a colour each (the table's colours), with
// their min/max bands; a zoom reads each experiment's range at full resolution.
import { useEffect, useState } from "react";
import { ApiError, api } from "../api";
import { useEmbed } from "../charts/EmbedBox";
import { ScalarChart, type ChartSeries } from "../charts/ScalarChart";
import { colourOf } from "../format";
import { drawable } from "../charts/series";

const OPTIONS = { smoothing: 0, smoother: "ema" as const, band: true, log: false, xLabel: "iteration", time: false };

export function Overlay({ ids, names, metric, variant, workspace }: {
  ids: string[]; names: Record<string, string>; metric: string; variant: string; workspace: string;
}) {
  const [range, setRange] = useState<[number, number] | null>(null);
  const embed = useEmbed(() => ({ objects: ids.join(","), type: "scalar", metrics: metric, variants: variant, ...(workspace ? { workspace } : {}) }));
  const [series, setSeries] = useState<ChartSeries[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => setRange(null), [metric, variant]);
  useEffect(() => {
    let current = true;
    const failed = (e: unknown) => current && setProblem(e instanceof ApiError ? e.message : String(e));
    const shape = (id: string, s: { x: number[]; mean: unknown[]; min: unknown[]; max: unknown[] }): ChartSeries => ({
      name: names[id] ?? id, colour: colourOf(id), x: s.x,
      line: drawable(s.mean), min: drawable(s.min), max: drawable(s.max),
    });
    if (range === null) {
      api.compare({ ids: ids.join(","), metric, variant, workspace: workspace || undefined }).then((c) => {
        if (current) setSeries((c.scalars ?? []).map((s) => shape(s.experiment_id, s)));
      }, failed);
    } else {
      Promise.all(ids.map((id) => api.scalars(id, { metric, variant, x_min: range[0], x_max: range[1], samples: 1000 }))).then((all) => {
        if (current) setSeries(all.flatMap((a, i) => a.series.slice(0, 1).map((s) => shape(ids[i]!, s))));
      }, failed);
    }
    return () => { current = false; };
  }, [ids.join(","), metric, variant, range, workspace]); // eslint-disable-line react-hooks/exhaustive-deps
  if (problem) return <p role="alert" className="notice">{problem}</p>;
  if (!series) return <div className="chart-placeholder" aria-busy="true" />;
  if (!series.length) return <p className="muted">None of them has {metric}/{variant}.</p>;
  return (
    <>
      <div className="chart-actions">{embed.button}</div>
      {embed.box}
      <ScalarChart title={`${metric}/${variant}`} series={series} options={OPTIONS} sync="compare" zoomed={range !== null}
        onZoom={(lo, hi) => setRange([lo, hi])} onReset={() => setRange(null)} />
      {range && <button type="button" onClick={() => setRange(null)}>Reset zoom</button>}
    </>
  );
}
