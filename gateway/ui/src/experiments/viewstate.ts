// The experiments view's whole state, read from and written to the URL (so a link reproduces
// it), and the table request it makes.
import { literal, splitIdentifiers } from "./querylang";

export const DEFAULT_COLUMNS = [
  "attributes.status", "attributes.name", "attributes.tags", "attributes.user",
  "attributes.started", "attributes.duration", "attributes.updated",
];
export const STATUSES = ["running", "completed", "failed", "stopped"] as const;
export const TABS = ["info", "scalars", "plots", "samples", "execution", "configuration", "artifacts", "console", "system", "notes"] as const;
export type Tab = (typeof TABS)[number];

export interface ViewState {
  project: string;
  filter: string;
  order: string; // an identifier, "-" first for descending; "" for newest first
  columns: string[];
  group: string;
  statuses: string[];
  tags: string[];
  users: string[];
  archive: boolean;
  selected: string; // the experiment shown in the info panel
  tab: Tab;
  full: boolean; // the experiment full-screen instead of beside the table
  panels: string; // the project panels (panels.ts), as JSON
  hidden: string[]; // experiments left out of the panels (the eye toggle)
  labels: "name" | "id"; // how panels name the runs
  still: boolean; // the panels' 10 s refresh switched off
  saved: string; // the saved view this one started from ("" none)
  widths: Record<string, number>; // columns resized in this view, in pixels
}

const list = (value: string | null): string[] => (value ? value.split(",").filter(Boolean) : []);

/** /projects/<path>?… as a view. */
export function readView(url: URL): ViewState {
  const p = url.searchParams;
  const path = decodeURIComponent(url.pathname.replace(/^\/projects\/?/, "")).replace(/\/$/, "");
  const tab = p.get("tab") as Tab | null;
  return {
    project: path,
    filter: p.get("filter") ?? "",
    order: p.get("order") ?? "",
    columns: p.has("cols") ? splitIdentifiers(p.get("cols") ?? "") : DEFAULT_COLUMNS,
    group: p.get("group") ?? "",
    statuses: list(p.get("status")).filter((s) => (STATUSES as readonly string[]).includes(s)),
    tags: list(p.get("tag")),
    users: list(p.get("user")),
    archive: p.get("view") === "archive",
    selected: p.get("exp") ?? "",
    tab: tab && (TABS as readonly string[]).includes(tab) ? tab : "info",
    full: p.get("full") === "1",
    panels: p.get("panels") ?? "",
    hidden: list(p.get("hide")),
    labels: p.get("labels") === "id" ? "id" : "name",
    still: p.get("still") === "1",
    saved: p.get("sv") ?? "",
    widths: Object.fromEntries(splitIdentifiers(p.get("widths") ?? "").flatMap((w) => {
      const at = w.lastIndexOf(":");
      const px = Number(w.slice(at + 1));
      return at > 0 && Number.isFinite(px) && px >= 40 && px <= 2000 ? [[w.slice(0, at), px]] : [];
    })),
  };
}

/** The URL of a view; what equals the default is left out. */
export function viewUrl(view: ViewState): string {
  const p = new URLSearchParams();
  const put = (name: string, value: string) => value && p.set(name, value);
  put("filter", view.filter);
  put("order", view.order);
  if (view.columns.join(",") !== DEFAULT_COLUMNS.join(",")) p.set("cols", view.columns.join(","));
  put("group", view.group);
  put("status", view.statuses.join(","));
  put("tag", view.tags.join(","));
  put("user", view.users.join(","));
  put("view", view.archive ? "archive" : "");
  put("exp", view.selected);
  put("tab", view.selected && view.tab !== "info" ? view.tab : "");
  put("full", view.selected && view.full ? "1" : "");
  put("panels", view.panels);
  put("hide", view.hidden.join(","));
  put("labels", view.labels === "id" ? "id" : "");
  put("still", view.still ? "1" : "");
  put("widths", Object.entries(view.widths).map(([c, px]) => `${c}:${px}`).join(","));
  put("sv", view.saved);
  const path = `/projects/${view.project.split("/").map(encodeURIComponent).join("/")}`;
  const query = p.toString();
  return query ? `${path}?${query}` : path;
}

/** The filter sent to the server: the person's own text first (so the server's error positions
 * still point into it, one character on), then the quick filters. */
export function effectiveFilter(view: ViewState, extra: string[] = []): { text: string; offset: number } {
  const terms: string[] = [];
  if (view.statuses.length) terms.push(`attributes.status IN (${view.statuses.map(literal).join(", ")})`);
  if (view.tags.length) terms.push(`attributes.tags IN (${view.tags.map(literal).join(", ")})`);
  if (view.users.length) terms.push(`attributes.user IN (${view.users.map(literal).join(", ")})`);
  terms.push(...extra);
  const own = view.filter.trim();
  if (!terms.length) return { text: own, offset: 0 };
  if (!own) return { text: terms.join(" AND "), offset: 0 };
  return { text: `(${own}) AND ${terms.join(" AND ")}`, offset: 1 };
}

/** The table request of a view (without its page). */
export function tableParams(view: ViewState, extra: string[] = []): Record<string, string | boolean> {
  const wanted = view.columns.filter((c) => !c.startsWith("attributes."));
  return {
    project: view.project,
    filter: effectiveFilter(view, extra).text,
    order_by: view.order,
    columns: wanted.join(","),
    archived: view.archive,
  };
}

/** What a saved view keeps: the view's URL query without the experiment opened, its tab, and
 * the saved view's own name. Two views are the same when this is. */
export function savedState(view: ViewState): string {
  const url = new URL(viewUrl({ ...view, selected: "", tab: "info", full: false, saved: "" }), "http://x");
  return url.searchParams.toString();
}

/** The view a saved state opens (in ``project``, starting from the saved view ``name``). */
export function fromSaved(project: string, state: string, name: string): ViewState {
  const url = new URL(`http://x/projects/${project.split("/").map(encodeURIComponent).join("/")}?${state}`);
  return { ...readView(url), saved: name };
}
