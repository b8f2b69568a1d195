import { Suspense, lazy, useCallback, useEffect, useState } from "react";
import { ApiError, api, onConnection, setCsrfToken, type SessionInfo } from "../api";
import { ComparePage } from "../compare/ComparePage";
import { ExperimentsPage } from "../experiments/ExperimentsPage";
import { Tick, useTicker } from "../live";
import { ProjectsPage, projectHref } from "../projects/ProjectsPage";
const ReportsPage = lazy(() => import("../reports/ReportsPage").then((m) => ({ default: m.ReportsPage })));
const ReportPage = lazy(() => import("../reports/ReportPage").then((m) => ({ default: m.ReportPage })));
const PrintReport = lazy(() => import("../reports/ReportPage").then((m) => ({ default: m.PrintReport })));
const SharedPage = lazy(() => import("../reports/ReportPage").then((m) => ({ default: m.SharedPage })));
const loading = <p className="muted" aria-busy="true">Loading…</p>;
import { navigate, useLocation } from "../route";
import { SettingsPage } from "../settings/SettingsPage";
import { SignInPage } from "../signin/SignInPage";
import { AccessContext, accessOf } from "./access";
import { ThemeSwitch } from "./theme";

/** A share link's page needs no account; everything else is the workspace. */
export function App() {
  const url = useLocation();
  if (url.pathname.startsWith("/shared/")) {
    return <Suspense fallback={loading}><SharedPage token={decodeURIComponent(url.pathname.slice(8))} /></Suspense>;
  }
  if (/^\/reports\/r[0-9a-f]{24}$/.test(url.pathname) && url.searchParams.get("print")) {
    return <Suspense fallback={null}><PrintReport id={url.pathname.slice(9)} /></Suspense>;
  }
  return <Workspace url={url} />;
}

/** Who is signed in decides what shows: the sign-in page, the workspace, or — without a
 * session but with ``?workspace=`` — that workspace's public projects, read-only. */
function Workspace({ url }: { url: URL }) {
  const tick = useTicker();
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [problem, setProblem] = useState<string | null>(null);
  const [connection, setConnection] = useState<ApiError | null>(null);

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
  useEffect(() => onConnection(setConnection), []);
  const signedIn = useCallback((info: SessionInfo) => {
    setCsrfToken(info.csrf_token ?? null);
    setSession(info);
    setConnection(null);
    const back = new URL(window.location.href).searchParams.get("next");
    navigate(back && back.startsWith("/") && !back.startsWith("//") ? back : "/");
  }, []);

  if (session === undefined) return <main aria-busy="true" className="muted">Loading…</main>;
  const browsing = session === null ? url.searchParams.get("workspace") ?? "" : "";
  if ((session === null && !browsing) || url.pathname === "/signin") {
    return <SignInPage problem={problem} onSignedIn={signedIn} />;
  }
  const signOut = () => api.signOut().finally(() => {
    setCsrfToken(null);
    setSession(null);
    navigate("/signin");
  });
  const signIn = () => navigate(`/signin?next=${encodeURIComponent(url.pathname + url.search)}`);
  const home = browsing ? `/?workspace=${encodeURIComponent(browsing)}` : "/";
  const link = (to: string, text: string, current: boolean) => (
    <a href={to} aria-current={current ? "page" : undefined} onClick={(e) => { e.preventDefault(); navigate(to); }}>{text}</a>
  );
  const sessionEnded = session !== null && connection?.status === 401;
  return (
    <AccessContext.Provider value={accessOf(session, browsing)}>
      <Tick.Provider value={tick}>
        <header className="topbar">
          <a className="brand" href={home} onClick={(e) => { e.preventDefault(); navigate(home); }}>Tracklane</a>
          <nav aria-label="Main" className="mainnav">
            {link(home, "Projects", url.pathname === "/" || url.pathname.startsWith("/projects/"))}
            {session && link("/reports", "Reports", url.pathname.startsWith("/reports"))}
            {session && link("/settings", "Settings", url.pathname === "/settings")}
          </nav>
          <ThemeSwitch />
          {session ? (
            <>
              <span className="who">{session.user ?? "service key"} · {session.workspace} · {session.role}</span>
              <button type="button" onClick={signOut}>Sign out</button>
            </>
          ) : (
            <>
              <span className="who">Public projects of {browsing} · read-only</span>
              <button type="button" onClick={signIn}>Sign in</button>
            </>
          )}
        </header>
        {connection && (connection.status === 0 || connection.status >= 500 || sessionEnded) && (
          <p role="alert" className="banner">
            {sessionEnded
              ? <>Your session ended (the key was rotated or revoked, or it expired). <button type="button" onClick={signIn}>Sign in again</button></>
              : connection.status === 0 ? "The gateway cannot be reached. The page retries every few seconds and catches up when it is back."
                : `The server had a problem: ${connection.message}. Retrying.`}
          </p>
        )}
        <main>
          <Page url={url} workspace={browsing} />
        </main>
      </Tick.Provider>
    </AccessContext.Provider>
  );
}

function Page({ url, workspace }: { url: URL; workspace: string }) {
  if (url.pathname.startsWith("/projects/")) return <ExperimentsPage url={url} workspace={workspace} />;
  if (url.pathname.startsWith("/experiments/")) return <ExperimentLink id={decodeURIComponent(url.pathname.slice(13))} workspace={workspace} />;
  if (url.pathname === "/settings") return <SettingsPage />;
  if (url.pathname === "/reports") return <Suspense fallback={loading}><ReportsPage url={url} /></Suspense>;
  if (/^\/reports\/r[0-9a-f]{24}$/.test(url.pathname)) return <Suspense fallback={loading}><ReportPage id={url.pathname.slice(9)} /></Suspense>;
  if (url.pathname === "/compare") return <ComparePage url={url} workspace={workspace} />;
  if (url.pathname === "/") return <ProjectsPage url={url} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>No page at {url.pathname}. <a href="/" onClick={(e) => { e.preventDefault(); navigate("/"); }}>Go to the projects</a>.</p>
    </section>
  );
}

/** /experiments/<id>: a link that survives moves between projects. Opens the experiment
 * full-screen in its project's table. */
function ExperimentLink({ id, workspace }: { id: string; workspace: string }) {
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    api.experiment(id).then((e) => {
      const base = projectHref(e.project, workspace);
      navigate(`${base}${base.includes("?") ? "&" : "?"}exp=${encodeURIComponent(e.id)}&full=1`, true);
    }, (err: unknown) => setProblem(err instanceof ApiError && err.status === 404
      ? `No experiment ${id}: it was deleted, or it is not yours to see (private projects need a sign-in).`
      : err instanceof Error ? err.message : String(err)));
  }, [id, workspace]);
  return problem ? <p role="alert" className="notice">{problem}</p> : <p className="muted" aria-busy="true">Opening the experiment…</p>;
}
