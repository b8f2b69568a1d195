// The one module all fetching goes through: same-origin requests with the session cookie, the
// CSRF token on every write, the API's error message on failure, and identical GETs in flight
// coalesced into one request.
import type { components } from "./api-types";

export type Schemas = components["schemas"];
export type SessionInfo = Schemas["SessionInfo"];
export type Project = Schemas["Project"];
export type ProjectPage = Schemas["ProjectPage"];
export type Experiment = Schemas["Experiment"];
export type ExperimentPage = Schemas["ExperimentPage"];
export type Columns = Schemas["Columns"];
export type Configuration = Schemas["Configuration"];
export type Execution = Schemas["Execution"];
export type Artifact = Schemas["Artifact"];
export type ConsolePage = Schemas["Console"];
export type ConsoleLine = Schemas["ConsoleLine"];
export type ApiKey = Schemas["ApiKey"];
export type NewKey = Schemas["NewKey"];
export type Member = Schemas["Member"];
export type Workspace = Schemas["Workspace"];
export type BulkOutcome = Schemas["BulkOutcome"];
export type Report = Schemas["Report"];
export type ReportPage = Schemas["ReportPage"];
export type Note = Schemas["Note"];
export type Role = "viewer" | "member" | "admin";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}

/** A failure the page-wide banner reports (unreachable, session ended, server error), which
 * views need not repeat. */
export function isConnectionProblem(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 0 || error.status === 401 || error.status >= 500);
}

let csrfToken: string | null = null;
// The last answer of each GET with its ETag (at most 300 of them): an unchanged answer is given
// back as the same object, so a view that polls does not render again.
const answers = new Map<string, { etag: string; data: unknown }>();
function remember(path: string, etag: string, data: unknown): void {
  answers.delete(path);
  answers.set(path, { etag, data });
  if (answers.size > 300) answers.delete(answers.keys().next().value as string);
}
const inFlight = new Map<string, Promise<unknown>>();

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Failures of any request, for the page-wide banner (the gateway unreachable, the session
 * ended). */
type Listener = (error: ApiError | null) => void;
const listeners = new Set<Listener>();
export function onConnection(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    const down = new ApiError(0, "The gateway cannot be reached; retrying when it is back.", null);
    listeners.forEach((l) => l(down));
    throw down;
  }
  const etag = method === "GET" ? response.headers.get("etag") : null;
  const known = etag ? answers.get(path) : undefined;
  if (known && known.etag === etag && response.ok) {
    // unchanged (the browser revalidated with If-None-Match and got a 304): the same object
    listeners.forEach((l) => l(null));
    return known.data as T;
  }
  const data: unknown = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (etag && response.ok) remember(path, etag, data);
  if (!response.ok) {
    const error = (data as { error?: { message?: string; field?: string | null } } | null)?.error;
    const failed = new ApiError(
      response.status, error?.message ?? `${response.status} ${response.statusText}`, error?.field ?? null,
    );
    if (response.status === 401 || response.status >= 500) listeners.forEach((l) => l(failed));
    throw failed;
  }
  listeners.forEach((l) => l(null));
  return data as T;
}

export function get<T>(path: string): Promise<T> {
  const pending = inFlight.get(path);
  if (pending) return pending as Promise<T>;
  const fresh = request<T>("GET", path).finally(() => inFlight.delete(path));
  inFlight.set(path, fresh);
  return fresh;
}

const q = (params: Record<string, string | number | boolean | undefined>): string => {
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== "" && value !== false) out.set(name, String(value));
  }
  return out.toString();
};
const exp = (id: string) => `/api/v1/experiments/${encodeURIComponent(id)}`;
const rep = (id: string) => `/api/v1/reports/${encodeURIComponent(id)}`;

/** A report command's answer: the report as it now is, or null when accepted but not yet visible. */
async function reportCommand(method: string, path: string, body?: unknown): Promise<Report | null> {
  const done = await request<Report | { status: "accepted" } | null>(method, path, body);
  return done && "id" in done ? done : null;
}

/** Stores an image for a report (the file's bytes as the body); its URL. */
async function uploadImage(id: string, file: Blob): Promise<Schemas["ImageStored"]> {
  const headers: Record<string, string> = { Accept: "application/json", "Content-Type": file.type || "application/octet-stream" };
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(`${rep(id)}/images`, { method: "POST", headers, body: file, credentials: "same-origin" });
  const data = (await response.json()) as Schemas["ImageStored"] & { error?: { message?: string; field?: string | null } };
  if (!response.ok) throw new ApiError(response.status, data.error?.message ?? `${response.status}`, data.error?.field ?? null);
  return data;
}

export const api = {
  session: () => get<SessionInfo>("/api/v1/session"),
  signIn: (key: string) => request<SessionInfo>("POST", "/api/v1/session", { key }),
  signInWithLink: (link: string) => request<SessionInfo>("POST", "/api/v1/session", { link }),
  signOut: () => request<{ signed_out: boolean }>("DELETE", "/api/v1/session"),
  projects: (query: URLSearchParams) => get<ProjectPage>(`/api/v1/projects?${query.toString()}`),
  editProject: (path: string, edit: { description?: string; public?: boolean }) =>
    request<Project>("PATCH", `/api/v1/projects/${path.split("/").map(encodeURIComponent).join("/")}`, edit),
  experiments: (params: Record<string, string | number | boolean | undefined>) =>
    get<ExperimentPage>(`/api/v1/experiments?${q(params)}`),
  columns: (project: string, workspace?: string) => get<Columns>(`/api/v1/columns?${q({ project, workspace })}`),
  experiment: (id: string) => get<Experiment>(exp(id)),
  configuration: (id: string) => get<Configuration>(`${exp(id)}/configuration`),
  execution: (id: string) => get<Execution>(`${exp(id)}/execution`),
  artifacts: (id: string) => get<Schemas["Artifacts"]>(`${exp(id)}/artifacts`),
  models: (id: string) => get<Schemas["Models"]>(`${exp(id)}/models`),
  preview: (id: string, kind: "artifact" | "model", name: string) =>
    get<Schemas["Preview"]>(`${exp(id)}/${kind}s/${encodeURIComponent(name)}/preview?max_bytes=16384`),
  scalars: (id: string, params: { metric?: string; variant?: string; samples?: number; xaxis?: string; x_min?: number; x_max?: number }) =>
    get<Schemas["Scalars"]>(`${exp(id)}/scalars?${q(params)}`),
  charts: (id: string, body: Schemas["ChartsQuery"]) => request<Schemas["Charts"]>("POST", `${exp(id)}/scalars/charts`, body),
  plots: (id: string, params: { metric?: string; variant?: string; iteration?: number; history?: number }) =>
    get<Schemas["Plots"]>(`${exp(id)}/plots?${q(params)}`),
  debugSamples: (id: string, params: { metric?: string; variant?: string; iteration?: number }) =>
    get<Schemas["Samples"]>(`${exp(id)}/debug-samples?${q(params)}`),
  compare: (params: { ids: string; metric?: string; variant?: string; samples?: number; xaxis?: string; workspace?: string }) =>
    get<Schemas["Comparison"]>(`/api/v1/compare?${q(params)}`),
  views: (project: string, workspace?: string) => get<Schemas["SavedViews"]>(`/api/v1/views?${q({ project, workspace })}`),
  saveView: (view: { project: string; name: string; state: string; default?: boolean }) =>
    request<Schemas["SavedViews"] | Schemas["Accepted"]>("POST", "/api/v1/views", view),
  deleteView: (project: string, name: string) =>
    request<Schemas["SavedViews"] | Schemas["Accepted"]>("POST", "/api/v1/views/delete", { project, name }),
  defaultView: (project: string, name: string) =>
    request<Schemas["SavedViews"] | Schemas["Accepted"]>("POST", "/api/v1/views/default", { project, name }),
  embedCode: (params: Record<string, string>) => get<Schemas["EmbedCode"]>(`/api/v1/embeds/code?${q(params)}`),
  console: (id: string, params: { after?: number; limit?: number; tail?: number; search?: string }) =>
    get<ConsolePage>(`${exp(id)}/console?${q(params)}`),
  consoleFileUrl: (id: string) => `${exp(id)}/console?format=text`,
  rename: (id: string, edit: { name?: string; description?: string }) => command("PATCH", exp(id), edit),
  tags: (id: string, add: string[], remove: string[]) => command("POST", `${exp(id)}/tags`, { add, remove }),
  lifecycle: (id: string, action: "archive" | "restore" | "publish" | "delete" | "clear") =>
    command("POST", `${exp(id)}/${action}`),
  move: (id: string, project: string) => command("POST", `${exp(id)}/move`, { project }),
  stop: (id: string) => command("POST", `${exp(id)}/stop`, { reason: "stopped from the web" }),
  editHyperparameters: (id: string, section: string, set: Record<string, string>, remove: string[] = []) =>
    command("PATCH", `${exp(id)}/hyperparameters`, { section, set, remove }),
  editProperties: (id: string, set: Record<string, string>, remove: string[] = []) =>
    command("PATCH", `${exp(id)}/properties`, { set, remove }),
  bulk: (body: { action: string; ids: string[]; add?: string[]; remove?: string[]; project?: string }) =>
    request<BulkOutcome>("POST", "/api/v1/experiments/bulk", body),
  reports: (params: Record<string, string | number | boolean | undefined>) => get<ReportPage>(`/api/v1/reports?${q(params)}`),
  report: (id: string) => get<Report>(rep(id)),
  createReport: (body: { name: string; project: string; description?: string; body?: string }) =>
    reportCommand("POST", "/api/v1/reports", body),
  editReport: (id: string, body: { version: number; name?: string; description?: string; body?: string; project?: string; add_tags?: string[]; remove_tags?: string[] }) =>
    reportCommand("PATCH", rep(id), body),
  reportAction: (id: string, action: "publish" | "archive" | "restore" | "delete") => reportCommand("POST", `${rep(id)}/${action}`),
  shareReport: (id: string, expiresInDays: number | null) =>
    request<Schemas["SharedLink"]>("POST", `${rep(id)}/share`, expiresInDays ? { expires_in_days: expiresInDays } : {}),
  revokeShare: (id: string, share: string) => reportCommand("POST", `${rep(id)}/share/revoke`, { id: share }),
  shared: (token: string) => get<Report>(`/api/v1/shared/${encodeURIComponent(token)}`),
  reportExportUrl: (id: string, format: "md" | "html" | "pdf") => `${rep(id)}/export?format=${format}`,
  uploadImage,
  note: (where: { project?: string; experiment?: string }) =>
    get<Note>(where.experiment ? `${exp(where.experiment)}/notes` : `/api/v1/notes?${q({ project: where.project })}`),
  setNote: (where: { project?: string; experiment?: string }, version: number, text: string) =>
    request<Note | { status: "accepted" }>("PUT", where.experiment ? `${exp(where.experiment)}/notes` : "/api/v1/notes",
      where.experiment ? { version, text } : { project: where.project, version, text }),
  keys: () => get<Schemas["ApiKeys"]>("/api/v1/keys"),
  createKey: (body: { name: string; role: Role; user?: string }) => request<NewKey>("POST", "/api/v1/keys", body),
  rotateKey: (id: string) => request<Schemas["RotatedKey"]>("POST", `/api/v1/keys/${encodeURIComponent(id)}/rotate`),
  revokeKey: (id: string) => request<Schemas["Revoked"]>("POST", `/api/v1/keys/${encodeURIComponent(id)}/revoke`),
  workspaces: () => get<Schemas["Workspaces"]>("/api/v1/workspaces"),
  editWorkspace: (ws: string, body: { embed_origins?: string[] | null; name?: string }) =>
    request<Workspace>("PATCH", `/api/v1/workspaces/${encodeURIComponent(ws)}`, body),
  members: (ws: string) => get<Schemas["Members"]>(`/api/v1/workspaces/${encodeURIComponent(ws)}/members`),
  setMember: (ws: string, user: string, role: Role) =>
    request<Member>("PUT", `/api/v1/workspaces/${encodeURIComponent(ws)}/members/${encodeURIComponent(user)}`, { role }),
  removeMember: (ws: string, user: string) =>
    request<unknown>("DELETE", `/api/v1/workspaces/${encodeURIComponent(ws)}/members/${encodeURIComponent(user)}`),
};

/** An experiment command: the experiment as it now is, or null when the change is accepted
 * but not yet visible (202); the next refresh shows it. */
async function command(method: string, path: string, body?: unknown): Promise<Experiment | null> {
  const done = await request<Experiment | { status: "accepted" }>(method, path, body);
  return done && "id" in done ? done : null;
}
