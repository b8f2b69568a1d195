import { useEffect, useMemo, useState } from "react";
import { ApiError, api, type Project, type ProjectPage } from "../api";
import { ago, count, plural } from "../format";
import { navigate, withParams } from "../route";
import { useAccess } from "../shell/access";
import { CopyButton, Dialog } from "../ui/Dialog";

const ORDERS: [string, string][] = [
  ["name", "Name"],
  ["-last_update", "Last update"],
  ["-experiments", "Experiment count"],
  ["-created", "Newest first"],
  ["created", "Oldest first"],
];

const MAX_DESCRIPTION = 10_000; // the API's limit (one line)

/** The experiments page of a project (inside the workspace being browsed, when anonymous). */
export function projectHref(path: string, workspace = ""): string {
  const base = `/projects/${path.split("/").map(encodeURIComponent).join("/")}`;
  return workspace ? `${base}?workspace=${encodeURIComponent(workspace)}` : base;
}

/** The workspace's projects as cards or a list, with search, sort and drill-down into nested
 * projects (the path is the ``project`` parameter); all of it kept in the URL. */
export function ProjectsPage({ url }: { url: URL }) {
  const view = url.searchParams.get("view") === "list" ? "list" : "cards";
  const search = url.searchParams.get("search") ?? "";
  const order = url.searchParams.get("order_by") ?? "name";
  const parent = url.searchParams.get("project") ?? "";
  const visibility = url.searchParams.get("visibility") ?? "";
  const workspace = url.searchParams.get("workspace") ?? "";
  const [page, setPage] = useState<ProjectPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    const query = new URLSearchParams({ order_by: order, page_size: "500" });
    if (search) query.set("search", search);
    if (workspace) query.set("workspace", workspace);
    api.projects(query).then(
      (p) => { setPage(p); setError(null); },
      (e: unknown) => setError(e instanceof ApiError ? e.message : "The projects could not be read"),
    );
  }, [search, order, workspace, version]);

  const children = useMemo(() => {
    const out = new Map<string, number>();
    for (const p of page?.projects ?? []) if (p.parent) out.set(p.parent, (out.get(p.parent) ?? 0) + 1);
    return out;
  }, [page]);
  const shown = useMemo(
    () => (page?.projects ?? []).filter((p) => (search ? true : (p.parent ?? "") === parent)
      && (!visibility || (visibility === "public") === p.public)),
    [page, parent, search, visibility],
  );
  const go = (params: Record<string, string>, replace = false) => navigate(withParams(url, params), replace);

  return (
    <section aria-labelledby="projects-title">
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <a href="/" onClick={(e) => { e.preventDefault(); go({ project: "" }); }}>Projects</a>
        {parent.split("/").filter(Boolean).map((part, i, parts) => {
          const path = parts.slice(0, i + 1).join("/");
          return (
            <span key={path}>
              {" / "}
              <a href={withParams(url, { project: path })} onClick={(e) => { e.preventDefault(); go({ project: path }); }}>{part}</a>
            </span>
          );
        })}
      </nav>
      <h1 id="projects-title">{parent || "Projects"}</h1>
      <div className="toolbar" role="search">
        <label>
          Search
          <input
            type="search" defaultValue={search} placeholder="name or description"
            onChange={(e) => go({ search: e.target.value }, true)}
          />
        </label>
        <label>
          Sort by
          <select value={order} onChange={(e) => go({ order_by: e.target.value })}>
            {ORDERS.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </label>
        <label>
          Visibility
          <select value={visibility} onChange={(e) => go({ visibility: e.target.value })}>
            <option value="">all</option>
            <option value="public">public</option>
            <option value="private">private</option>
          </select>
        </label>
        <div role="group" aria-label="View" className="segmented">
          <button type="button" aria-pressed={view === "cards"} onClick={() => go({ view: "" })}>Cards</button>{" "}
          <button type="button" aria-pressed={view === "list"} onClick={() => go({ view: "list" })}>List</button>
        </div>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {page && shown.length === 0 && (
        <p className="empty">
          {search ? `No project matches “${search}”.` : "No projects yet: log a run with the SDK and it appears here."}
        </p>
      )}
      {view === "cards" ? (
        <ul className="cards" aria-label="Projects">
          {shown.map((p) => (
            <ProjectCard key={p.path} project={p} workspace={workspace} subprojects={children.get(p.path) ?? 0}
              drill={() => go({ project: p.path, search: "" })} onEdited={() => setVersion((v) => v + 1)} />
          ))}
        </ul>
      ) : (
        <table className="list" aria-label="Projects">
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Experiments</th><th scope="col">Subprojects</th><th scope="col">Last update</th><th scope="col">Visibility</th></tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr key={p.path}>
                <td><a href={projectHref(p.path, workspace)} onClick={(e) => { e.preventDefault(); navigate(projectHref(p.path, workspace)); }}>{p.path}</a></td>
                <td>{p.description}</td>
                <td>{count(p.experiments)}</td>
                <td>{children.get(p.path) ? <a href={withParams(url, { project: p.path })} onClick={(e) => { e.preventDefault(); go({ project: p.path, search: "" }); }}>{count(children.get(p.path) ?? 0)} →</a> : "—"}</td>
                <td>{ago(p.last_update)}</td>
                <td>{p.public ? "public" : "private"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ProjectCard({ project, workspace, subprojects, drill, onEdited }: {
  project: Project; workspace: string; subprojects: number; drill: () => void; onEdited: () => void;
}) {
  const access = useAccess();
  const [editing, setEditing] = useState(false);
  const [description, setDescription] = useState(project.description);
  const [visible, setVisible] = useState(project.public);
  const [problem, setProblem] = useState<string | null>(null);
  const href = projectHref(project.path, workspace);
  const save = () => {
    api.editProject(project.path, { description, public: visible }).then(
      () => { setEditing(false); onEdited(); },
      (e: unknown) => setProblem(e instanceof Error ? e.message : String(e)),
    );
  };
  return (
    <li className="card">
      <h2><a href={href} onClick={(e) => { e.preventDefault(); navigate(href); }} title={project.path}>{project.name}</a></h2>
      <p className="description">{project.description || <span className="muted">No description</span>}</p>
      <div className="facts">
        <span>{plural(project.experiments, "experiment")}</span>
        {project.archived_experiments > 0 && <span>{count(project.archived_experiments)} archived</span>}
        <span>updated {ago(project.last_update)}</span>
        <span className={`badge${project.public ? " public" : ""}`}>{project.public ? "public" : "private"}</span>
      </div>
      <div className="card-actions">
        {subprojects > 0 && (
          <a href={`/?project=${encodeURIComponent(project.path)}`} onClick={(e) => { e.preventDefault(); drill(); }}>
            {plural(subprojects, "subproject")} →
          </a>
        )}
        <CopyButton text={`${window.location.origin}${href}`} label="Copy link" />
        {access.isAdmin && <button type="button" onClick={() => { setDescription(project.description); setVisible(project.public); setProblem(null); setEditing(true); }}>Edit</button>}
      </div>
      <Dialog title={`Edit ${project.path}`} open={editing} onClose={() => setEditing(false)}>
        <form className="stack" onSubmit={(e) => { e.preventDefault(); save(); }}>
          <label>Description
            <input value={description} maxLength={MAX_DESCRIPTION} onChange={(e) => setDescription(e.target.value)} />
          </label>
          <label className="check-label">
            <input type="checkbox" checked={visible} onChange={(e) => setVisible(e.target.checked)} />
            Public: anyone with the link can read it, without signing in
          </label>
          {problem && <p role="alert" className="notice">{problem}</p>}
          <div className="dialog-actions">
            <button type="button" onClick={() => setEditing(false)}>Cancel</button>
            <button type="submit">Save</button>
          </div>
        </form>
      </Dialog>
    </li>
  );
}
