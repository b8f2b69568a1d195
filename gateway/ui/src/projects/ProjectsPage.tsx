import { useEffect, useMemo, useState } from "react";
import { ApiError, api, type Project, type ProjectPage } from "../api";
import { ago, count, plural } from "../format";
import { navigate, withParams } from "../route";

const ORDERS: [string, string][] = [
  ["name", "Name"],
  ["-last_update", "Last update"],
  ["-experiments", "Experiment count"],
];

/** The workspace's projects as cards or a list, with search, sort and drill-down into nested
 * projects (the path is the ``project`` parameter); all of it kept in the URL. */
export function ProjectsPage({ url }: { url: URL }) {
  const view = url.searchParams.get("view") === "list" ? "list" : "cards";
  const search = url.searchParams.get("search") ?? "";
  const order = url.searchParams.get("order_by") ?? "name";
  const parent = url.searchParams.get("project") ?? "";
  const [page, setPage] = useState<ProjectPage | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const query = new URLSearchParams({ order_by: order, page_size: "500" });
    if (search) query.set("search", search);
    api.projects(query).then(
      (p) => { setPage(p); setError(null); },
      (e: unknown) => setError(e instanceof ApiError ? e.message : "The projects could not be read"),
    );
  }, [search, order]);

  const shown = useMemo(
    () => (page?.projects ?? []).filter((p) => (search ? true : (p.parent ?? "") === parent)),
    [page, parent, search],
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
        <div role="group" aria-label="View">
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
          {shown.map((p) => <ProjectCard key={p.path} project={p} open={() => go({ project: p.path, search: "" })} />)}
        </ul>
      ) : (
        <table className="list" aria-label="Projects">
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Experiments</th><th scope="col">Last update</th><th scope="col">Visibility</th></tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr key={p.path}>
                <td><a href={withParams(url, { project: p.path })} onClick={(e) => { e.preventDefault(); go({ project: p.path, search: "" }); }}>{p.path}</a></td>
                <td>{p.description}</td>
                <td>{count(p.experiments)}</td>
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

function ProjectCard({ project, open }: { project: Project; open: () => void }) {
  return (
    <li className="card">
      <h2><a href={`/?project=${encodeURIComponent(project.path)}`} onClick={(e) => { e.preventDefault(); open(); }}>{project.name}</a></h2>
      <p className="description">{project.description || <span className="muted">No description</span>}</p>
      <div className="facts">
        <span>{plural(project.experiments, "experiment")}</span>
        {project.archived_experiments > 0 && <span>{count(project.archived_experiments)} archived</span>}
        <span>updated {ago(project.last_update)}</span>
        <span className="badge">{project.public ? "public" : "private"}</span>
      </div>
    </li>
  );
}
