// A project's experiments: the filter bar, quick filters, group by, the column chooser, the
// table (or its groups), bulk actions, and the experiment beside the table or full-screen. The
// whole view lives in the URL.
import { Suspense, lazy, useEffect, useMemo, useState } from "react";
import { api, isConnectionProblem, type Columns, type Experiment } from "../api";
import { count } from "../format";
import { useTick } from "../live";
import { navigate } from "../route";
import { ExperimentView } from "../experiment/ExperimentView";
import { useAccess } from "../shell/access";
import { BulkBar } from "./BulkBar";
import { ColumnChooser } from "./ColumnChooser";
import { ExperimentTable, type Selection } from "./ExperimentTable";
import { FilterBar } from "./FilterBar";
import { ProjectPanels } from "./ProjectPanels";
import { SavedViews } from "./SavedViews";
import { label, literal } from "./querylang";
import { STATUSES, effectiveFilter, readView, tableParams, viewUrl, type ViewState } from "./viewstate";

const Notes = lazy(() => import("../reports/Notes").then((m) => ({ default: m.Notes })));

const NONE: Selection = { ids: new Set(), all: false };

export function ExperimentsPage({ url, workspace }: { url: URL; workspace: string }) {
  const view = readView(url);
  const tick = useTick();
  const access = useAccess();
  const go = (change: Partial<ViewState>, replace = false) => {
    const next = viewUrl({ ...view, ...change });
    navigate(workspace ? `${next}${next.includes("?") ? "&" : "?"}workspace=${encodeURIComponent(workspace)}` : next, replace);
  };
  const [columns, setColumns] = useState<Columns>({ identifiers: [], truncated: false });
  const [selection, setSelection] = useState<Selection>(NONE);
  const [notice, setNotice] = useState<string | null>(null);
  const [counts, setCounts] = useState<{ tags: [string, number][]; users: [string, number][]; groups: [unknown, number][] }>(
    { tags: [], users: [], groups: [] },
  );
  // the same object while the table's query is the same (a tab or a selection changes nothing of it)
  const tableQuery = JSON.stringify(tableParams(view));
  const params = useMemo(() => ({ ...tableParams(view), ...(workspace ? { workspace } : {}) }), [tableQuery, workspace]); // eslint-disable-line react-hooks/exhaustive-deps
  const filter = effectiveFilter(view);
  const [filterError, setFilterError] = useState<string | null>(null);

  // an experiment full-screen hides the table: nothing of it is read until the table shows again
  const tableShown = !(view.selected && view.full);
  useEffect(() => {
    if (!tableShown) return;
    api.columns(view.project, workspace || undefined).then(setColumns, () => undefined);
  }, [view.project, workspace, tableShown, tick > 0 && tick % 15 === 0]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => setSelection(NONE), [params]);
  useEffect(() => { // the values the quick filters offer, and the groups
    if (!tableShown) return;
    const base = { project: view.project, archived: view.archive, page_size: 1, workspace: workspace || undefined };
    const of = (by: string, f = "") => api.experiments({ ...base, filter: f, group_by: by }).then(
      (p) => (p.groups ?? []).map((g) => [g.value, g.count] as [unknown, number]),
    );
    Promise.all([
      of("attributes.tags"), of("attributes.user"),
      view.group ? of(view.group, filter.text) : Promise.resolve([] as [unknown, number][]),
    ]).then(([tags, users, groups]) => {
      setCounts({ tags: tags as [string, number][], users: users as [string, number][], groups });
    }, () => undefined); // a bad filter is reported by the count below
  }, [params, view.group, tableShown, tick]); // eslint-disable-line react-hooks/exhaustive-deps

  const select = (ids: string[], on: boolean) => {
    setSelection((current) => {
      if (!ids.length) return on ? { ids: new Set(), all: true } : NONE;
      const next = new Set(current.all ? [] : current.ids);
      for (const id of ids) (on ? next.add(id) : next.delete(id));
      return { ids: next, all: false };
    });
  };
  const open = (e: Experiment) => go({ selected: e.id });
  const sort = (id: string) => go({ order: view.order === id ? `-${id}` : view.order === `-${id}` ? "" : id });
  const toggle = (list: string[], value: string) => (list.includes(value) ? list.filter((v) => v !== value) : [...list, value]);
  const [total, setTotal] = useState<number | null>(null);
  useEffect(() => {
    if (!tableShown) return;
    api.experiments({ ...params, columns: "", page_size: 1 }).then((p) => { setTotal(p.total); setFilterError(null); }, (e: unknown) => {
      if (isConnectionProblem(e)) return; // the banner says it; the view stays as it was
      setTotal(null);
      setFilterError(e instanceof Error ? e.message : String(e));
    });
  }, [params, tableShown, tick]); // eslint-disable-line react-hooks/exhaustive-deps

  const table = (extra: string[] = [], height = "calc(100vh - 330px)") => (
    <ExperimentTable
      params={extra.length ? { ...params, filter: effectiveFilter(view, extra).text } : params}
      columns={view.columns} order={view.order} selected={view.selected} selection={selection}
      onSort={sort} onReorder={(c) => go({ columns: c })} onSelect={select} onOpen={open} height={height}
      widths={view.widths} onWidths={(widths) => go({ widths }, true)}
      hidden={view.hidden} onHide={(id) => go({ hidden: view.hidden.includes(id) ? view.hidden.filter((h) => h !== id) : [...view.hidden, id] }, true)}
    />
  );

  if (view.selected && view.full) {
    return <ExperimentView id={view.selected} tab={view.tab} full onTab={(tab) => go({ tab })} onFull={(full) => go({ full })} onClose={() => go({ selected: "", full: false })} />;
  }
  const crumbs = view.project.split("/");
  const up = (path: string) => `/?project=${encodeURIComponent(path)}${workspace ? `&workspace=${encodeURIComponent(workspace)}` : ""}`;
  return (
    <div className={view.selected ? "split" : undefined}>
      <section aria-labelledby="experiments-title" className="experiments">
        <nav className="breadcrumbs" aria-label="Breadcrumbs">
          <a href="/" onClick={(e) => { e.preventDefault(); navigate(workspace ? `/?workspace=${encodeURIComponent(workspace)}` : "/"); }}>Projects</a>
          {crumbs.map((part, i) => {
            const path = crumbs.slice(0, i + 1).join("/");
            return <span key={path}> / {i === crumbs.length - 1 ? <span aria-current="page">{part}</span>
              : <a href={up(path)} onClick={(e) => { e.preventDefault(); navigate(up(path)); }}>{part}</a>}</span>;
          })}
        </nav>
        <div className="title-row">
          <h1 id="experiments-title">{crumbs[crumbs.length - 1]}</h1>
          <span className="muted" aria-live="polite">{total === null ? "" : `${count(total)} ${view.archive ? "archived" : ""} experiment${total === 1 ? "" : "s"}`}</span>
          <div role="group" aria-label="Which experiments" className="segmented">
            <button type="button" aria-pressed={!view.archive} onClick={() => go({ archive: false, selected: "" })}>Active</button>
            <button type="button" aria-pressed={view.archive} onClick={() => go({ archive: true, selected: "" })}>Archive</button>
          </div>
          <SavedViews view={view} workspace={workspace} plainVisit={[...url.searchParams.keys()].every((k) => k === "workspace")} />
        </div>
        {access.session && (
          <details className="project-notes">
            <summary>Project notes</summary>
            <Suspense fallback={<p className="muted" aria-busy="true">Loading…</p>}><Notes where={{ project: view.project }} label="Project notes" /></Suspense>
          </details>
        )}
        <FilterBar
          value={view.filter} identifiers={columns.identifiers} error={filterError}
          errorOffset={filter.offset} onApply={(text) => go({ filter: text })}
        />
        <div className="toolbar quick" aria-label="Quick filters" role="group">
          <fieldset className="chips">
            <legend>Status</legend>
            {STATUSES.map((s) => (
              <label key={s} className={`chip status-${s}`}>
                <input type="checkbox" checked={view.statuses.includes(s)} onChange={() => go({ statuses: toggle(view.statuses, s) })} />{s}
              </label>
            ))}
          </fieldset>
          <QuickPick title="Tag" anything="any" chosen={view.tags} counts={counts.tags} onToggle={(t) => go({ tags: toggle(view.tags, t) })} />
          <QuickPick title="User" anything="anyone" chosen={view.users} counts={counts.users} onToggle={(u) => go({ users: toggle(view.users, u) })} />
          <label>
            Group by
            <select aria-label="Group by" value={view.group} onChange={(e) => go({ group: e.target.value })}>
              <option value="">nothing</option>
              {columns.identifiers.filter((i) => !["attributes.id", "attributes.description"].includes(i)).map((i) => <option key={i} value={i}>{i}</option>)}
            </select>
          </label>
          <ColumnChooser identifiers={columns.identifiers} truncated={columns.truncated} columns={view.columns} onChange={(c) => go({ columns: c })} />
          {(view.statuses.length > 0 || view.tags.length > 0 || view.users.length > 0) && (
            <button type="button" onClick={() => go({ statuses: [], tags: [], users: [] })}>Reset quick filters</button>
          )}
        </div>
        <ProjectPanels
          params={params} identifiers={columns.identifiers} raw={view.panels} hidden={view.hidden} labels={view.labels} still={view.still}
          onChange={(change) => go({ ...(change.panels !== undefined ? { panels: change.panels } : {}), ...(change.labels ? { labels: change.labels } : {}), ...(change.still !== undefined ? { still: change.still } : {}) }, true)}
        />
        {notice && <p role="status" className="notice">{notice} <button type="button" onClick={() => setNotice(null)}>Dismiss</button></p>}
        <BulkBar selection={selection} total={total} params={params} archive={view.archive} onDone={(m) => { setNotice(m); setSelection(NONE); }} />
        {view.group ? (
          <div className="groups" aria-label={`Grouped by ${view.group}`}>
            {counts.groups.map(([value, n]) => (
              <details key={JSON.stringify(value)} className="group">
                <summary><strong>{label(view.group)}: {value === null ? "(none)" : String(value)}</strong> <span className="muted">{count(n)}</span></summary>
                {value === null ? <p className="muted">Experiments without a value cannot be listed by group; filter them out instead.</p>
                  : table([`${view.group} = ${literal(value)}`], `${Math.min(n, 10) * 38 + 48}px`)}
              </details>
            ))}
          </div>
        ) : table()}
      </section>
      {view.selected && (
        <ExperimentView id={view.selected} tab={view.tab} full={false} onTab={(tab) => go({ tab })} onFull={(full) => go({ full })} onClose={() => go({ selected: "" })} />
      )}
    </div>
  );
}

/** A quick filter: pick values (with their counts) to add or take away; the chosen ones are
 * listed in its first line. */
function QuickPick({ title, anything, chosen, counts, onToggle }: {
  title: string; anything: string; chosen: string[]; counts: [unknown, number][]; onToggle: (value: string) => void;
}) {
  return (
    <label>
      {title}
      <select aria-label={title} value="" onChange={(e) => e.target.value && onToggle(e.target.value)}>
        <option value="">{chosen.length ? chosen.join(", ") : anything}</option>
        {counts.map(([v, n]) => {
          const value = String(v ?? "");
          return <option key={value} value={value}>{chosen.includes(value) ? "✓ " : ""}{value || "(none)"} ({n})</option>;
        })}
      </select>
    </label>
  );
}
