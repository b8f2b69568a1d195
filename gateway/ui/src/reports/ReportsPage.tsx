// /reports: the workspace's reports by project (a card per top-level project, click through) or
// as a list of report cards, the Archive, search, and "+ New report". All of it in the URL.
import { useEffect, useMemo, useState } from "react";
import { ApiError, api, type Report, type ReportPage } from "../api";
import { ago, plural } from "../format";
import { navigate, withParams } from "../route";
import { useAccess } from "../shell/access";
import { Dialog } from "../ui/Dialog";

export const reportHref = (id: string) => `/reports/${id}`;
const go = (url: URL, params: Record<string, string>, replace = false) => navigate(withParams(url, params), replace);
const problemOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Projects directly under ``parent`` (top-level ones for ""), with how many reports each holds
 * (its own and its sub-projects'). */
export function projectCards(projects: string[], reports: Report[], parent: string): [string, number][] {
  const prefix = parent ? `${parent}/` : "";
  const counts = new Map<string, number>();
  for (const path of projects) {
    if (!path.startsWith(prefix) || path === parent) continue;
    const head = prefix + path.slice(prefix.length).split("/")[0];
    counts.set(head, counts.get(head) ?? 0);
  }
  for (const r of reports) {
    if (!r.project.startsWith(prefix) || r.project === parent) continue;
    const head = prefix + r.project.slice(prefix.length).split("/")[0];
    counts.set(head, (counts.get(head) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

export function ReportsPage({ url }: { url: URL }) {
  const access = useAccess();
  const view = url.searchParams.get("view") ?? "projects";
  const archived = view === "archive";
  const search = url.searchParams.get("search") ?? "";
  const project = url.searchParams.get("project") ?? "";
  const [page, setPage] = useState<ReportPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const [creating, setCreating] = useState(false);
  const refresh = () => setVersion((v) => v + 1);

  useEffect(() => {
    api.reports({ search, archived, page_size: 500, project: view === "list" || archived ? project : "" }).then(
      (p) => { setPage(p); setError(null); },
      (e: unknown) => setError(e instanceof ApiError ? e.message : "The reports could not be read"),
    );
  }, [search, archived, project, view, version]);

  const cards = useMemo(() => (page ? projectCards(page.projects, page.reports, project) : []), [page, project]);
  const here = (page?.reports ?? []).filter((r) => view !== "projects" || r.project === project);
  const showCards = view === "projects" && !search;

  return (
    <section aria-labelledby="reports-title" className="reports">
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <a href="/reports" onClick={(e) => { e.preventDefault(); go(url, { project: "" }); }}>Reports</a>
        {project.split("/").filter(Boolean).map((part, i, parts) => {
          const path = parts.slice(0, i + 1).join("/");
          return <span key={path}>{" / "}<a href={withParams(url, { project: path })} onClick={(e) => { e.preventDefault(); go(url, { project: path }); }}>{part}</a></span>;
        })}
      </nav>
      <h1 id="reports-title">{archived ? "Archive" : project || "Reports"}</h1>
      <div className="toolbar" role="search">
        <label>
          Search
          <input type="search" defaultValue={search} placeholder="name or description" onChange={(e) => go(url, { search: e.target.value }, true)} />
        </label>
        <div role="group" aria-label="View" className="segmented">
          <button type="button" aria-pressed={view === "projects"} onClick={() => go(url, { view: "" })}>Projects</button>{" "}
          <button type="button" aria-pressed={view === "list"} onClick={() => go(url, { view: "list" })}>List</button>{" "}
          <button type="button" aria-pressed={archived} onClick={() => go(url, { view: "archive" })}>Archive</button>
        </div>
        {access.canWrite && !archived && <button type="button" className="primary" onClick={() => setCreating(true)}>+ New report</button>}
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {showCards && cards.length > 0 && (
        <ul className="cards" aria-label="Report projects">
          {cards.map(([path, n]) => (
            <li key={path} className="card">
              <h2><a href={withParams(url, { project: path })} onClick={(e) => { e.preventDefault(); go(url, { project: path }); }}>{path.split("/").pop()}</a></h2>
              <div className="facts"><span>{plural(n, "report")}</span></div>
            </li>
          ))}
        </ul>
      )}
      {page && here.length === 0 && (!showCards || cards.length === 0) && (
        <p className="empty">
          {search ? `No report matches “${search}”.` : archived ? "The Archive is empty." : "No reports yet. Write up findings with live charts: + New report."}
        </p>
      )}
      {here.length > 0 && (
        <ul className="cards" aria-label="Reports">
          {here.map((r) => <ReportCard key={r.id} report={r} onChanged={refresh} />)}
        </ul>
      )}
      <NewReportDialog open={creating} project={project} onClose={() => setCreating(false)} />
    </section>
  );
}

function NewReportDialog({ open, project, onClose }: { open: boolean; project: string; onClose: () => void }) {
  const [name, setName] = useState("");
  const [path, setPath] = useState(project);
  const [description, setDescription] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => { if (open) { setPath(project); setProblem(null); } }, [open, project]);
  const create = () => {
    api.createReport({ name, project: path, description }).then(
      (r) => { onClose(); setName(""); setDescription(""); navigate(r ? reportHref(r.id) : "/reports"); },
      (e: unknown) => setProblem(problemOf(e)),
    );
  };
  return (
    <Dialog title="New report" open={open} onClose={onClose}>
      <form className="stack" onSubmit={(e) => { e.preventDefault(); create(); }}>
        <label>Name<input required maxLength={255} value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label>Project<input required maxLength={255} value={path} placeholder="vision/resnet" onChange={(e) => setPath(e.target.value)} /></label>
        <label>Description<textarea maxLength={10_000} rows={3} value={description} onChange={(e) => setDescription(e.target.value)} /></label>
        {problem && <p role="alert" className="notice">{problem}</p>}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary">Create</button>
        </div>
      </form>
    </Dialog>
  );
}

type Ask = "rename" | "tag" | "move" | "share" | null;

function ReportCard({ report, onChanged }: { report: Report; onChanged: () => void }) {
  const access = useAccess();
  const [ask, setAsk] = useState<Ask>(null);
  const [value, setValue] = useState("");
  const [link, setLink] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const href = reportHref(report.id);
  const act = (p: Promise<unknown>) => p.then(() => { setAsk(null); onChanged(); }, (e: unknown) => setProblem(problemOf(e)));
  const open = (what: Ask, initial = "") => { setProblem(null); setValue(initial); setLink(null); setAsk(what); };
  const submit = () => {
    if (ask === "rename") act(api.editReport(report.id, { version: report.version, name: value }));
    else if (ask === "tag") act(api.editReport(report.id, { version: report.version, add_tags: [value] }));
    else if (ask === "move") act(api.editReport(report.id, { version: report.version, project: value }));
  };
  const menu = (action: string) => {
    if (action === "rename") open("rename", report.name);
    else if (action === "tag") open("tag");
    else if (action === "move") open("move", report.project);
    else if (action === "share") { open("share"); api.shareReport(report.id, null).then((s) => setLink(s.url), (e: unknown) => setProblem(problemOf(e))); }
    else if (action === "archive" || action === "restore" || action === "delete") {
      if (action !== "delete" || window.confirm(`Delete “${report.name}” for good?`)) act(api.reportAction(report.id, action));
    }
  };
  const locked = report.status === "published";
  return (
    <li className="card report-card">
      <h2><a href={href} onClick={(e) => { e.preventDefault(); navigate(href); }} title={report.name}>{report.name}</a></h2>
      <p className="description">{report.description || <span className="muted">No description</span>}</p>
      <div className="facts">
        <span title="project">{report.project}</span>
        <span>{report.user || "service key"}</span>
        <span>updated {ago(report.updated_at)}</span>
        <span className={`badge status-${report.status}`}>{report.status}</span>
      </div>
      {report.tags.length > 0 && <div className="tags">{report.tags.map((t) => <span key={t} className="tag">{t}</span>)}</div>}
      {access.canWrite && (
        <div className="card-actions">
          <label className="menu-label">
            <span className="visually-hidden">Actions for {report.name}</span>
            <select aria-label={`Actions for ${report.name}`} value="" onChange={(e) => menu(e.target.value)}>
              <option value="">⋯ Actions</option>
              {!locked && !report.archived && <option value="rename">Rename</option>}
              {!report.archived && <option value="share">Share</option>}
              {!locked && !report.archived && <option value="tag">Add tag</option>}
              {!locked && !report.archived && <option value="move">Move to…</option>}
              {!report.archived && <option value="archive">Archive</option>}
              {report.archived && <option value="restore">Restore</option>}
              {report.archived && <option value="delete">Delete</option>}
            </select>
          </label>
        </div>
      )}
      {problem && !ask && <p role="alert" className="notice">{problem}</p>}
      <Dialog title={ask === "share" ? `Share ${report.name}` : ask === "rename" ? "Rename report" : ask === "tag" ? "Add a tag" : "Move to project"} open={ask !== null} onClose={() => setAsk(null)}>
        {ask === "share" ? (
          <div className="stack">
            <p>Anyone with this link can read the report and its charts, without an account. Revoke it from the report's page.</p>
            {link ? <input readOnly value={link} aria-label="Share link" onFocus={(e) => e.target.select()} /> : <p aria-busy="true">Making the link…</p>}
            {problem && <p role="alert" className="notice">{problem}</p>}
            <div className="dialog-actions"><button type="button" onClick={() => setAsk(null)}>Close</button></div>
          </div>
        ) : (
          <form className="stack" onSubmit={(e) => { e.preventDefault(); submit(); }}>
            <label>{ask === "rename" ? "Name" : ask === "tag" ? "Tag" : "Project"}
              <input required autoFocus maxLength={255} value={value} onChange={(e) => setValue(e.target.value)} />
            </label>
            {problem && <p role="alert" className="notice">{problem}</p>}
            <div className="dialog-actions">
              <button type="button" onClick={() => setAsk(null)}>Cancel</button>
              <button type="submit" className="primary">Save</button>
            </div>
          </form>
        )}
      </Dialog>
    </li>
  );
}
