import { useCallback, useEffect, useState } from "react";
import { ApiError, api, setCsrfToken, type SessionInfo } from "../api";
import { ProjectsPage } from "../projects/ProjectsPage";
import { navigate, useLocation } from "../route";
import { SignInPage } from "../signin/SignInPage";

/** Who is signed in decides what shows: the sign-in page, or the workspace. */
export function App() {
  const url = useLocation();
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [problem, setProblem] = useState<string | null>(null);

  const refresh = useCallback(() => {
    api.session().then(
      (info) => {
        setCsrfToken(info.csrf_token ?? null);
        setSession(info);
      },
      (error: unknown) => {
        // 401: nobody is signed in. Anything else (the gateway unreachable): the sign-in page
        // says so, and signing in retries.
        setProblem(error instanceof ApiError && error.status !== 401 ? error.message : null);
        setSession(null);
      },
    );
  }, []);
  useEffect(refresh, [refresh]);
  const signedIn = useCallback((info: SessionInfo) => {
    setCsrfToken(info.csrf_token ?? null);
    setSession(info);
    navigate("/");
  }, []);

  if (session === undefined) return <main aria-busy="true" className="muted">Loading…</main>;
  if (session === null || url.pathname === "/signin") {
    return (
      <SignInPage problem={problem} onSignedIn={signedIn} />
    );
  }
  const signOut = () => api.signOut().finally(() => {
    setCsrfToken(null);
    setSession(null);
    navigate("/signin");
  });
  return (
    <>
      <header className="topbar">
        <a className="brand" href="/" onClick={(e) => { e.preventDefault(); navigate("/"); }}>Tracklane</a>
        <span className="who">
          {session.user ?? "service key"} · {session.workspace} · {session.role}
        </span>
        <button type="button" onClick={signOut}>Sign out</button>
      </header>
      <main>
        <ProjectsPage url={url} />
      </main>
    </>
  );
}
