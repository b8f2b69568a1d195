// Compare, at /compare?ids=a,b,…: 2 to 10 experiments side by side, one colour each (the
// table's). Metrics as last / min / max with the best of each row marked; one metric's series
// overlaid; hyperparameters, properties, execution and packages with the differences marked
// (and "only differences"). Everything is in the URL.
import { Suspense, lazy, useEffect, useMemo, useState } from "react";
import { ApiError, api, type Configuration, type Execution, type Schemas } from "../api";
import { colourOf, number } from "../format";
import { navigate, withParams } from "../route";
import { StatusBadge } from "../experiments/ExperimentTable";
import { best, lowerIsBetter, rows, splitPackage, type Row } from "./diff";

const Overlay = lazy(() => import("./Overlay").then((m) => ({ default: m.Overlay })));
const ComparePlots = lazy(() => import("./Sections").then((m) => ({ default: m.ComparePlots })));
const CompareSamples = lazy(() => import("./Sections").then((m) => ({ default: m.CompareSamples })));
const CompareParcoords = lazy(() => import("./Sections").then((m) => ({ default: m.CompareParcoords })));
const DiffOfTwo = lazy(() => import("./Sections").then((m) => ({ default: m.DiffOfTwo })));

type Comparison = Schemas["Comparison"];

export function ComparePage({ url, workspace }: { url: URL; workspace: string }) {
  const ids = (url.searchParams.get("ids") ?? "").split(",").filter(Boolean);
  const onlyDiff = url.searchParams.get("all") !== "1";
  const chosen = url.searchParams.get("metric") ?? "";
  const [comparison, setComparison] = useState<Comparison | null>(null);
  const [details, setDetails] = useState<{ config: Configuration[]; execution: Execution[] } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const set = (change: Record<string, string>) => navigate(withParams(url, change), true);

  useEffect(() => {
    if (ids.length < 2 || ids.length > 10) return;
    setProblem(null);
    api.compare({ ids: ids.join(","), workspace: workspace || undefined }).then(setComparison, (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e)));
    Promise.all([Promise.all(ids.map((id) => api.configuration(id))), Promise.all(ids.map((id) => api.execution(id)))]).then(
      ([config, execution]) => setDetails({ config, execution }), () => setDetails(null),
    );
  }, [ids.join(","), workspace]); // eslint-disable-line react-hooks/exhaustive-deps

  const experiments = comparison?.experiments ?? [];
  const order = experiments.map((e) => e.id);
  const metricRows = useMemo(() => (comparison?.metrics ?? []).filter((m) => !m.metric.startsWith(":monitor:")), [comparison]);
  if (ids.length < 2 || ids.length > 10) {
    return <p className="notice">Compare takes 2 to 10 experiments: select them in a project's table and choose Compare.</p>;
  }
  if (problem) return <p role="alert" className="notice">{problem}</p>;
  if (!comparison) return <p className="muted" aria-busy="true">Loading…</p>;
  const firstMetric = metricRows[0] ? `${metricRows[0].metric}/${metricRows[0].variant}` : "";
  const metric = chosen || firstMetric;
  const [overlayMetric, overlayVariant] = splitKey(metric);
  const byIndex = <T,>(list: T[] | undefined, id: string): T | undefined => list?.[ids.indexOf(id)];
  const hyper = details ? rows(order.map((id) => flatten(byIndex(details.config, id)))) : [];
  const props = details ? rows(order.map((id) => byIndex(details.config, id)?.properties ?? {})) : [];
  const exec = details ? rows(order.map((id) => executionFacts(byIndex(details.execution, id)))) : [];
  const packages = details ? rows(order.map((id) => Object.fromEntries((byIndex(details.execution, id)?.packages ?? []).map(splitPackage)))) : [];
  return (
    <section aria-labelledby="compare-title" className="compare stack">
      <div className="title-row">
        <h1 id="compare-title">Compare {experiments.length} experiments</h1>
        <label className="check-label"><input type="checkbox" checked={onlyDiff} onChange={(e) => set({ all: e.target.checked ? "" : "1" })} />only differences</label>
      </div>
      <div className="table-wrap">
        <table className="plain compare-table" aria-label="Experiments compared">
          <thead>
            <tr>
              <th scope="col">Experiment</th>
              {experiments.map((e) => (
                <th scope="col" key={e.id}>
                  <span className="name-cell">
                    <span className="swatch" style={{ background: colourOf(e.id) }} aria-hidden="true" />
                    <a href={`/experiments/${e.id}`} onClick={(ev) => { ev.preventDefault(); navigate(`/experiments/${e.id}`); }}>{e.name || e.id}</a>
                  </span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr><th scope="row">Status</th>{experiments.map((e) => <td key={e.id}><StatusBadge status={e.status} /></td>)}</tr>
            <tr><th scope="row">Project</th>{experiments.map((e) => <td key={e.id}>{e.project}</td>)}</tr>
            <tr><th scope="row">Tags</th>{experiments.map((e) => <td key={e.id}><span className="tags">{e.tags.map((t) => <span key={t} className="tag">{t}</span>)}</span></td>)}</tr>
          </tbody>
        </table>
      </div>

      <section aria-labelledby="compare-metrics">
        <h2 id="compare-metrics">Metrics</h2>
        {metricRows.length === 0 ? <p className="muted">None of them reported scalars.</p> : (
          <div className="table-wrap">
            <table className="plain compare-table" aria-label="Metrics compared">
              <thead><tr><th scope="col">Metric (last, min – max)</th>{experiments.map((e) => <th scope="col" key={e.id}><span className="swatch" style={{ background: colourOf(e.id) }} aria-hidden="true" /> {e.name}</th>)}</tr></thead>
              <tbody>
                {metricRows.map((m) => {
                  const key = `${m.metric}/${m.variant}`;
                  const lasts = order.map((id) => m.values[id]?.last ?? null);
                  const winner = best(lasts, lowerIsBetter(m.metric));
                  return (
                    <tr key={key} className={key === metric ? "chosen-row" : undefined}>
                      <th scope="row">
                        <button type="button" className="link" aria-pressed={key === metric} onClick={() => set({ metric: key })} title="Overlay this metric below">
                          {m.variant === m.metric ? m.metric : key}
                        </button>
                      </th>
                      {order.map((id, i) => {
                        const v = m.values[id];
                        return (
                          <td key={id} className={`num${winner.includes(i) ? " best" : ""}`} aria-label={winner.includes(i) ? `${number(v?.last)}, the best` : undefined}>
                            {v ? <>{number(v.last)}{winner.includes(i) && <span aria-hidden="true"> ★</span>}<span className="muted small"> {number(v.min)} – {number(v.max)}</span></> : "—"}
                          </td>
                        );
                      })}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {metric && (
        <section aria-labelledby="compare-overlay" className="chart-frame">
          <h2 id="compare-overlay">{metric}</h2>
          <Suspense fallback={<div className="chart-placeholder" aria-busy="true" />}>
            <Overlay ids={order} names={Object.fromEntries(experiments.map((e) => [e.id, e.name || e.id]))} metric={overlayMetric} variant={overlayVariant} workspace={workspace} />
          </Suspense>
        </section>
      )}

      {!details ? <p className="muted" aria-busy="true">Loading the details…</p> : (
        <>
          <DiffTable title="Hyperparameters" rows={hyper} onlyDiff={onlyDiff} names={experiments.map((e) => e.name)} />
          <DiffTable title="Properties" rows={props} onlyDiff={onlyDiff} names={experiments.map((e) => e.name)} />
          <DiffTable title="Execution" rows={exec} onlyDiff={onlyDiff} names={experiments.map((e) => e.name)} />
          <DiffTable title="Packages" rows={packages} onlyDiff={onlyDiff} names={experiments.map((e) => e.name)} />
          <Suspense fallback={<div className="chart-placeholder" aria-busy="true" />}>
            {metric && (
              <CompareParcoords
                experiments={experiments} params={order.map((id) => flatten(byIndex(details.config, id)))} metric={metric}
                values={order.map((id) => {
                  const v = metricRows.find((m) => `${m.metric}/${m.variant}` === metric)?.values[id]?.last;
                  return typeof v === "number" ? v : null;
                })}
              />
            )}
            {experiments.length === 2 && (
              <DiffOfTwo experiments={experiments} config={order.map((id) => byIndex(details.config, id))}
                execution={order.map((id) => byIndex(details.execution, id))} metrics={metricRows} />
            )}
          </Suspense>
        </>
      )}
      <Suspense fallback={<div className="chart-placeholder" aria-busy="true" />}>
        <ComparePlots experiments={experiments} />
        <CompareSamples experiments={experiments} />
      </Suspense>
    </section>
  );
}

function DiffTable({ title, rows: all, onlyDiff, names }: { title: string; rows: Row[]; onlyDiff: boolean; names: string[] }) {
  const shown = onlyDiff ? all.filter((r) => r.differs) : all;
  const differing = all.filter((r) => r.differs).length;
  const id = `compare-${title.toLowerCase()}`;
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title} <span className="muted small">{differing} of {all.length} differ</span></h2>
      {shown.length === 0 ? <p className="muted">{all.length ? "All the same." : "None reported."}</p> : (
        <div className="table-wrap">
          <table className="plain compare-table" aria-label={`${title} compared`}>
            <thead><tr><th scope="col">Name</th>{names.map((n, i) => <th scope="col" key={i}>{n}</th>)}</tr></thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.key} className={r.differs ? "differs" : undefined} data-differs={r.differs}>
                  <th scope="row"><code>{r.key}</code>{r.differs && <span className="visually-hidden"> (differs)</span>}</th>
                  {r.values.map((v, i) => <td key={i} className="prewrap">{v ?? <span className="muted">—</span>}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf("/");
  return at < 0 ? [key, key] : [key.slice(0, at), key.slice(at + 1)];
}

function flatten(config: Configuration | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of config?.hyperparameters ?? []) for (const p of s.params) out[`${s.section}/${p.name}`] = p.value;
  return out;
}

function executionFacts(x: Execution | undefined): Record<string, string> {
  if (!x) return {};
  const facts: Record<string, string> = {
    repository: x.repository, branch: x.branch, commit: x.commit, "entry point": x.entry_point, arguments: x.argv,
    python: x.python, "uncommitted changes": x.diff ? `${x.diff.split("\n").length} lines` : "none",
  };
  return Object.fromEntries(Object.entries(facts).filter(([, v]) => v));
}
