// The one module all fetching goes through: same-origin requests with the session cookie, the
// CSRF token on every write, the API's error message on failure, and identical GETs in flight
// coalesced into one request.
import type { components } from "./api-types";

export type Schemas = components["schemas"];
export type SessionInfo = Schemas["SessionInfo"];
export type Project = Schemas["Project"];
export type ProjectPage = Schemas["ProjectPage"];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
const inFlight = new Map<string, Promise<unknown>>();

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
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
    throw new ApiError(0, "The gateway cannot be reached; retrying when it is back.", null);
  }
  const data: unknown = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = (data as { error?: { message?: string; field?: string | null } } | null)?.error;
    throw new ApiError(response.status, error?.message ?? `${response.status} ${response.statusText}`, error?.field ?? null);
  }
  return data as T;
}

export function get<T>(path: string): Promise<T> {
  const pending = inFlight.get(path);
  if (pending) return pending as Promise<T>;
  const fresh = request<T>("GET", path).finally(() => inFlight.delete(path));
  inFlight.set(path, fresh);
  return fresh;
}

export const api = {
  session: () => get<SessionInfo>("/api/v1/session"),
  signIn: (key: string) => request<SessionInfo>("POST", "/api/v1/session", { key }),
  signInWithLink: (link: string) => request<SessionInfo>("POST", "/api/v1/session", { link }),
  signOut: () => request<{ signed_out: boolean }>("DELETE", "/api/v1/session"),
  projects: (query: URLSearchParams) => get<ProjectPage>(`/api/v1/projects?${query.toString()}`),
};
