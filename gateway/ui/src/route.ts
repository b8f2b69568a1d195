// The view state lives in the URL: these read and write it, and say when it changed.
import { useEffect, useState } from "react";

/** Goes to ``to`` (a new history entry, or in place with ``replace``: typing in a search box). */
export function navigate(to: string, replace = false): void {
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useLocation(): URL {
  const [url, setUrl] = useState(() => new URL(window.location.href));
  useEffect(() => {
    const changed = () => setUrl(new URL(window.location.href));
    window.addEventListener("popstate", changed);
    return () => window.removeEventListener("popstate", changed);
  }, []);
  return url;
}

/** The URL with ``params`` set (empty values removed), for replaceState. */
export function withParams(url: URL, params: Record<string, string>): string {
  const next = new URL(url.href);
  for (const [name, value] of Object.entries(params)) {
    if (value) next.searchParams.set(name, value);
    else next.searchParams.delete(name);
  }
  return next.pathname + next.search;
}
