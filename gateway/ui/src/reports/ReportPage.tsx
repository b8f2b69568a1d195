// /reports/<id>: a report — written beside its live preview and saved as one types (a draft),
// read-only once published; publish, share (and revoke), download, archive. /shared/<token>:
// the same report through a share link, without an account.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api, type Report } from "../api";
import { ago } from "../format";
import { navigate } from "../route";
import { useAccess } from "../shell/access";
import { Dialog } from "../ui/Dialog";
import { MarkdownEditor, MarkdownView } from "./Markdown";

const AUTOSAVE_MS = 1000;
const problemOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
type Saving = { state: "saved" | "saving" | "unsaved" } | { state: "failed" | "conflict"; message: string };

export function ReportPage({ id }: { id: string }) {
  const access = useAccess();
  const [report, setReport] = useState<Report | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [saving, setSaving] = useState<Saving>({ state: "saved" });
  const [sharing, setSharing] = useState(false);
  const base = useRef<Report | null>(null); // the version the text on screen was written on

  const load = useCallback(() => api.report(id).then(
    (r) => { setReport(r); base.current = r; setText(r.body ?? ""); setSaving({ state: "saved" }); setProblem(null); },
    (e: unknown) => setProblem(e instanceof ApiError && e.status === 404 ? "No such report: it was deleted, or it belongs to another workspace." : problemOf(e)),
  ), [id]);
  useEffect(() => { void load(); }, [load]);

  const save = useCallback((body: string, force = false) => {
    const at = base.current;
    if (!at) return;
    setSaving({ state: "saving" });
    api.editReport(id, { version: at.version, body }).then(
      (r) => {
        if (r) { base.current = r; setReport(r); }
        setSaving({ state: "saved" });
      },
      (e: unknown) => {
        if (e instanceof ApiError && e.status === 409 && !force) setSaving({ state: "conflict", message: e.message });
        else setSaving({ state: "failed", message: problemOf(e) });
      },
    );
  }, [id]);

  // autosave a second after the last keystroke
  useEffect(() => {
    if (saving.state !== "unsaved") return;
    const t = setTimeout(() => save(text), AUTOSAVE_MS);
    return () => clearTimeout(t);
  }, [text, saving.state, save]);

  const act = (action: "publish" | "archive" | "restore") =>
    api.reportAction(id, action).then(() => load(), (e: unknown) => setProblem(problemOf(e)));
  const overwrite = () => api.report(id).then((latest) => { base.current = latest; save(text, true); }, (e: unknown) => setProblem(problemOf(e)));

  if (!report) return problem ? <p role="alert" className="notice">{problem}</p> : <p className="muted" aria-busy="true">Opening the report…</p>;
  const editable = access.canWrite && report.status === "draft" && !report.archived;
  const status = saving.state === "saving" ? "Saving…" : saving.state === "unsaved" ? "Unsaved changes" : saving.state === "saved" ? "All changes saved" : "";
  return (
    <section aria-labelledby="report-title" className="report-page">
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <a href="/reports" onClick={(e) => { e.preventDefault(); navigate("/reports"); }}>Reports</a>{" / "}
        <a href={`/reports?view=list&project=${encodeURIComponent(report.project)}`} onClick={(e) => { e.preventDefault(); navigate(`/reports?view=list&project=${encodeURIComponent(report.project)}`); }}>{report.project}</a>
      </nav>
      <header className="report-head">
        <div>
          <h1 id="report-title">{report.name}</h1>
          <p className="facts">
            <span className={`badge status-${report.status}`}>{report.status}</span>
            {report.archived && <span className="badge">archived</span>}
            <span>{report.user || "service key"}</span>
            <span>updated {ago(report.updated_at)}</span>
            {report.tags.map((t) => <span key={t} className="tag">{t}</span>)}
          </p>
          {report.description && <p className="description">{report.description}</p>}
        </div>
        <div className="report-actions">
          {editable && <span className="muted" role="status">{status}</span>}
          {access.canWrite && report.status === "draft" && !report.archived && (
            <button type="button" className="primary" onClick={() => { if (window.confirm("Publish? A published report can no longer be edited.")) void act("publish"); }}>Publish</button>
          )}
          {access.canWrite && !report.archived && <button type="button" onClick={() => setSharing(true)}>Share</button>}
          <details className="menu">
            <summary className="button">Download</summary>
            <div className="menu-items" role="menu" onClick={(e) => { (e.currentTarget.closest("details") as HTMLDetailsElement).open = false; }}>
              <a role="menuitem" href={api.reportExportUrl(id, "pdf")} download>PDF</a>
              <a role="menuitem" href={api.reportExportUrl(id, "html")} download>HTML (charts work offline)</a>
              <a role="menuitem" href={api.reportExportUrl(id, "md")} download>Markdown</a>
            </div>
          </details>
          {access.canWrite && (report.archived
            ? <button type="button" onClick={() => void act("restore")}>Restore</button>
            : <button type="button" onClick={() => void act("archive")}>Archive</button>)}
        </div>
      </header>
      {problem && <p role="alert" className="notice">{problem}</p>}
      {saving.state === "conflict" && (
        <div role="alert" className="notice">
          Someone saved this report while you were writing ({saving.message}). Your text is still here.{" "}
          <button type="button" onClick={() => void load()}>Load their version</button>{" "}
          <button type="button" onClick={() => void overwrite()}>Save mine over it</button>
        </div>
      )}
      {saving.state === "failed" && <p role="alert" className="notice">Not saved: {saving.message}. <button type="button" onClick={() => save(text)}>Try again</button></p>}
      {report.status === "published" && <p className="muted">Published: this report is read-only.</p>}
      {editable ? (
        <MarkdownEditor
          text={text} label="Report"
          onChange={(t) => { setText(t); setSaving({ state: "unsaved" }); }}
          onImage={(file) => api.uploadImage(id, file).then((stored) => stored.url)}
        />
      ) : (
        <MarkdownView text={report.body ?? ""} label="Report" />
      )}
      <ShareDialog report={report} open={sharing} onClose={() => setSharing(false)} onChanged={() => void load()} />
    </section>
  );
}

function ShareDialog({ report, open, onClose, onChanged }: { report: Report; open: boolean; onClose: () => void; onChanged: () => void }) {
  const [days, setDays] = useState("");
  const [link, setLink] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => { if (open) { setLink(null); setProblem(null); } }, [open]);
  const make = () => api.shareReport(report.id, days ? Number(days) : null).then(
    (s) => { setLink(s.url); onChanged(); }, (e: unknown) => setProblem(problemOf(e)),
  );
  const live = (report.shares ?? []).filter((s) => !s.revoked && (s.expires_at === null || s.expires_at * 1000 > Date.now()));
  return (
    <Dialog title={`Share ${report.name}`} open={open} onClose={onClose}>
      <div className="stack">
        <p>A share link opens the report and its charts read-only, without an account. Nothing else of the workspace becomes readable.</p>
        <form className="row" onSubmit={(e) => { e.preventDefault(); void make(); }}>
          <label>Expires after
            <select value={days} onChange={(e) => setDays(e.target.value)}>
              <option value="">never</option><option value="1">1 day</option><option value="7">7 days</option><option value="30">30 days</option><option value="365">1 year</option>
            </select>
          </label>
          <button type="submit" className="primary">Create link</button>
        </form>
        {link && <input readOnly value={link} aria-label="Share link" onFocus={(e) => e.target.select()} />}
        {live.length > 0 && (
          <ul className="shares" aria-label="Share links">
            {live.map((s) => (
              <li key={s.id}>
                <span>Link {s.id.slice(0, 6)}… made {ago(s.created_at)}{s.expires_at ? `, expires ${new Date(s.expires_at * 1000).toLocaleDateString()}` : ""}</span>{" "}
                <button type="button" onClick={() => api.revokeShare(report.id, s.id).then(onChanged, (e: unknown) => setProblem(problemOf(e)))}>Revoke</button>
              </li>
            ))}
          </ul>
        )}
        {problem && <p role="alert" className="notice">{problem}</p>}
        <div className="dialog-actions"><button type="button" onClick={onClose}>Close</button></div>
      </div>
    </Dialog>
  );
}

/** /shared/<token>: the report a share link opens, read-only, its charts read through the link. */
export function SharedPage({ token }: { token: string }) {
  const [report, setReport] = useState<Report | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    api.shared(token).then(setReport, (e: unknown) => setProblem(problemOf(e)));
  }, [token]);
  const options = useMemo(() => ({ share: token }), [token]);
  return (
    <main className="shared">
      {problem && <p role="alert" className="notice">{problem}</p>}
      {!report && !problem && <p className="muted" aria-busy="true">Opening the report…</p>}
      {report && (
        <section aria-labelledby="report-title" className="report-page">
          <header className="report-head">
            <div>
              <h1 id="report-title">{report.name}</h1>
              <p className="facts"><span>{report.project}</span><span>updated {ago(report.updated_at)}</span><span className="muted">shared read-only · Tracklane</span></p>
              {report.description && <p className="description">{report.description}</p>}
            </div>
          </header>
          <MarkdownView text={report.body ?? ""} options={options} label="Report" />
        </section>
      )}
    </main>
  );
}

/** /reports/<id>?print=1: the report alone, light, every chart loaded at once — what the
 * gateway prints to PDF (and reads for the HTML export) in headless Chromium. It marks
 * ``body[data-print-ready]`` once the report is on the page. */
export function PrintReport({ id }: { id: string }) {
  const [report, setReport] = useState<Report | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    document.documentElement.dataset.theme = "light";
    api.report(id).then(setReport, (e: unknown) => setProblem(problemOf(e)));
  }, [id]);
  useEffect(() => { if (report || problem) document.body.dataset.printReady = report ? "1" : "failed"; }, [report, problem]);
  const options = useMemo(() => ({ print: true }), []);
  if (problem) return <p role="alert">{problem}</p>;
  if (!report) return null;
  return (
    <main className="print">
      <header className="report-head">
        <div>
          <h1 id="report-title">{report.name}</h1>
          <p className="facts"><span>{report.project}</span><span>{report.user || "service key"}</span><span>updated {new Date(report.updated_at * 1000).toLocaleString()}</span></p>
          {report.description && <p className="description">{report.description}</p>}
        </div>
      </header>
      <MarkdownView text={report.body ?? ""} options={options} label="Report" />
    </main>
  );
}
