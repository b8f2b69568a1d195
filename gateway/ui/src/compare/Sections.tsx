// Compare's heavier sections, loaded with Plotly when the page needs them: a logged plot of each
// run side by side; their debug samples side by side at one iteration; parallel coordinates of
// chosen hyperparameters against a metric; and, for exactly two runs, Comet's Diff — uncommitted
// changes, packages, hyperparameters and metrics as line diffs.
import { useEffect, useMemo, useState } from "react";
import { ApiError, api, type Configuration, type Execution, type Schemas } from "../api";
import { confusionFigure } from "../charts/figures";
import type { PlotlyFigure } from "../charts/plotly";
import { PlotlyView } from "../charts/PlotlyView";
import { Media } from "../experiment/DebugSamplesTab";
import { PlotTable } from "../experiment/PlotsTab";
import { parallelFigure, type PanelRow } from "../experiments/panels";
import { colourOf, number } from "../format";
import { keyedLines, lineDiff, splitPackage, type DiffLine } from "./diff";

type Experiment = Schemas["Experiment"];
type Plot = Schemas["Plot"];
type Sample = Schemas["Sample"];

const key = (x: { metric: string; variant: string }) => `${x.metric} / ${x.variant}`;

function Heading({ e }: { e: Experiment }) {
  return <h3 className="side-title"><span className="swatch" style={{ background: colourOf(e.id) }} aria-hidden="true" /> {e.name || e.id}</h3>;
}

/** One logged plot (chosen among every run's) drawn for each run, side by side. */
export function ComparePlots({ experiments }: { experiments: Experiment[] }) {
  const [plots, setPlots] = useState<Plot[][] | null>(null);
  const [chosen, setChosen] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    Promise.all(experiments.map((e) => api.plots(e.id, {}))).then((all) => setPlots(all.map((a) => a.plots)),
      (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e)));
  }, [experiments.map((e) => e.id).join(",")]); // eslint-disable-line react-hooks/exhaustive-deps
  const titles = useMemo(() => [...new Set((plots ?? []).flat().map(key))].sort(), [plots]);
  const title = chosen || titles[0] || "";
  return (
    <section aria-labelledby="compare-plots">
      <h2 id="compare-plots">Plots</h2>
      {problem && <p role="alert" className="notice">{problem}</p>}
      {!plots ? <p className="muted" aria-busy="true">Loading…</p> : !titles.length ? <p className="muted">None of them logged plots.</p> : (
        <>
          <label className="inline-label">Plot
            <select value={title} onChange={(e) => setChosen(e.target.value)}>{titles.map((t) => <option key={t}>{t}</option>)}</select>
          </label>
          <div className="side-by-side">
            {experiments.map((e, i) => {
              const plot = plots[i]!.find((p) => key(p) === title);
              const figure = plot?.figure as unknown as PlotlyFigure | undefined;
              const isTable = (figure?.data?.[0] as { type?: string } | undefined)?.type === "table";
              return (
                <div key={e.id} className="side" aria-label={`${title} of ${e.name || e.id}`} role="group">
                  <Heading e={e} />
                  {!plot || !figure ? <p className="muted">Not logged by this run.</p>
                    : isTable ? <PlotTable figure={figure} title={`${title} of ${e.name}`} />
                      : <PlotlyView figure={plot.kind === "confusion_matrix" ? confusionFigure(figure, "counts") : figure}
                        label={`${title} of ${e.name || e.id}, iteration ${plot.iteration}`} state={`iteration:${plot.iteration}`} height={260} />}
                  {plot && <p className="muted small">iteration {plot.iteration}</p>}
                </div>
              );
            })}
          </div>
        </>
      )}
    </section>
  );
}

/** One debug sample series of each run, side by side at the same iteration. */
export function CompareSamples({ experiments }: { experiments: Experiment[] }) {
  const [latest, setLatest] = useState<Sample[][] | null>(null);
  const [chosen, setChosen] = useState("");
  const [iteration, setIteration] = useState<number | null>(null);
  const [shown, setShown] = useState<(Sample | null)[] | null>(null);
  useEffect(() => {
    Promise.all(experiments.map((e) => api.debugSamples(e.id, {}))).then((all) => setLatest(all.map((a) => a.samples)), () => setLatest([]));
  }, [experiments.map((e) => e.id).join(",")]); // eslint-disable-line react-hooks/exhaustive-deps
  const titles = useMemo(() => [...new Set((latest ?? []).flat().map(key))].sort(), [latest]);
  const title = chosen || titles[0] || "";
  const all = useMemo(() => { // every stored iteration of the series in any run
    const its = new Set<number>();
    for (const list of latest ?? []) for (const s of list) if (key(s) === title) s.stored_iterations.forEach((i) => its.add(i));
    return [...its].sort((p, q) => p - q);
  }, [latest, title]);
  const at = iteration ?? all[all.length - 1] ?? null;
  useEffect(() => {
    if (at === null || !title) return;
    const sample = (latest ?? []).flat().find((s) => key(s) === title)!;
    Promise.all(experiments.map((e) => api.debugSamples(e.id, { metric: sample.metric, variant: sample.variant, iteration: at }).then(
      (a) => a.samples[0] ?? null, () => null,
    ))).then(setShown);
  }, [at, title]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!latest || !titles.length) return null;
  const index = at === null ? -1 : all.indexOf(at);
  return (
    <section aria-labelledby="compare-samples">
      <h2 id="compare-samples">Debug samples</h2>
      <div className="toolbar">
        <label className="inline-label">Sample
          <select value={title} onChange={(e) => { setChosen(e.target.value); setIteration(null); }}>{titles.map((t) => <option key={t}>{t}</option>)}</select>
        </label>
        <button type="button" aria-label="Previous iteration of every run" disabled={index <= 0} onClick={() => setIteration(all[index - 1]!)}>‹</button>
        <label className="inline-label">Iteration
          <select value={at ?? ""} onChange={(e) => setIteration(Number(e.target.value))}>{all.map((i) => <option key={i} value={i}>{i}</option>)}</select>
        </label>
        <button type="button" aria-label="Next iteration of every run" disabled={index < 0 || index >= all.length - 1} onClick={() => setIteration(all[index + 1]!)}>›</button>
      </div>
      <div className="side-by-side">
        {experiments.map((e, i) => (
          <div key={e.id} className="side" role="group" aria-label={`${title} of ${e.name || e.id}`} data-iteration={shown?.[i]?.iteration ?? ""}>
            <Heading e={e} />
            {shown?.[i] ? <div className="sample-media"><Media sample={shown[i]!} onOpen={() => window.open(shown[i]!.url, "_blank", "noopener")} /></div>
              : <p className="muted">No sample at iteration {at}.</p>}
          </div>
        ))}
      </div>
    </section>
  );
}

/** Parallel coordinates of hyperparameters (those that differ, to start with) against a metric's
 * last value: a line per run, in its colour. */
export function CompareParcoords({ experiments, params, metric, values }: {
  experiments: Experiment[]; params: Record<string, string>[]; metric: string; values: (number | null)[];
}) {
  const names = useMemo(() => [...new Set(params.flatMap((p) => Object.keys(p)))].sort(), [params]);
  const differing = names.filter((n) => new Set(params.map((p) => p[n])).size > 1);
  const [axes, setAxes] = useState<string[] | null>(null);
  const chosen = axes ?? differing.slice(0, 6);
  const rows: PanelRow[] = experiments.map((e, i) => ({
    id: e.id, name: e.name || e.id, columns: { ...Object.fromEntries(chosen.map((a) => [a, params[i]?.[a] ?? null])), [metric]: values[i] },
  }));
  const figure = useMemo(
    () => parallelFigure(rows, [...chosen, metric], { label: (a) => a, name: (r) => r.name, colour: colourOf, width: 2.5 }),
  [chosen.join(","), metric, values.join(",")]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!names.length) return null;
  return (
    <section aria-labelledby="compare-parcoords">
      <h2 id="compare-parcoords">Hyperparameters against {metric}</h2>
      <fieldset className="chips">
        <legend>Axes</legend>
        {names.map((n) => (
          <label key={n} className="chip"><input type="checkbox" checked={chosen.includes(n)} onChange={(e) => setAxes(e.target.checked ? [...chosen, n] : chosen.filter((c) => c !== n))} />{n}</label>
        ))}
      </fieldset>
      {chosen.length ? <PlotlyView figure={figure} label={`Hyperparameters against ${metric}`} state={`axes:${chosen.length}`} height={300} />
        : <p className="muted">Choose hyperparameters to draw.</p>}
    </section>
  );
}

/** Comet's Diff of two runs: what changed from the first to the second, as line diffs. */
export function DiffOfTwo({ experiments, config, execution, metrics }: {
  experiments: Experiment[]; config: (Configuration | undefined)[]; execution: (Execution | undefined)[];
  metrics: Schemas["ComparedMetric"][];
}) {
  const [a, b] = experiments as [Experiment, Experiment];
  const hyper = (c: Configuration | undefined) => Object.fromEntries((c?.hyperparameters ?? []).flatMap((s) => s.params.map((p) => [`${s.section}/${p.name}`, p.value])));
  const packages = (x: Execution | undefined) => Object.fromEntries((x?.packages ?? []).map(splitPackage));
  const metricValues = (id: string) => Object.fromEntries(metrics.filter((m) => m.values[id]).map((m) => [`${m.metric}/${m.variant}`, number(m.values[id]!.last)]));
  const parts: [string, DiffLine[]][] = [
    ["Uncommitted changes", lineDiff((execution[0]?.diff ?? "").split("\n").filter(Boolean), (execution[1]?.diff ?? "").split("\n").filter(Boolean))],
    ["Packages", lineDiff(keyedLines(packages(execution[0])), keyedLines(packages(execution[1])))],
    ["Hyperparameters", lineDiff(keyedLines(hyper(config[0])), keyedLines(hyper(config[1])))],
    ["Metrics (last)", lineDiff(keyedLines(metricValues(a.id)), keyedLines(metricValues(b.id)))],
  ];
  return (
    <section aria-labelledby="compare-diff">
      <h2 id="compare-diff">Diff <span className="muted small">from {a.name || a.id} (−) to {b.name || b.id} (+)</span></h2>
      {parts.map(([title, lines]) => {
        const changed = lines.filter((l) => l.op !== " ").length;
        return (
          <details key={title} open={changed > 0 && changed < 400} className="diff-part">
            <summary><strong>{title}</strong> <span className="muted small">{changed ? `${lines.filter((l) => l.op === "-").length} removed, ${lines.filter((l) => l.op === "+").length} added` : lines.length ? "the same" : "none"}</span></summary>
            {changed > 0 && (
              <pre className="code diff-lines" tabIndex={0} aria-label={`${title}: diff`}>
                {lines.map((l, i) => <span key={i} className={l.op === "+" ? "diff-add" : l.op === "-" ? "diff-del" : undefined}>{l.op} {l.text}{"\n"}</span>)}
              </pre>
            )}
          </details>
        );
      })}
    </section>
  );
}
