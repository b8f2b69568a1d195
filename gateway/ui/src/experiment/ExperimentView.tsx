// One experiment, beside the table or full-screen: a header with what people change most
// (name, tags, stop, archive, publish, move) and tabs for its details. It re-reads itself on
// the live tick, so a running experiment's status, tags and console move without a reload.
import { Suspense, lazy, useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { ApiError, api, type Experiment } from "../api";
import { ago, duration } from "../format";
import { useTick } from "../live";
import { useAccess } from "../shell/access";
import { CopyButton, Dialog } from "../ui/Dialog";
import { StatusBadge } from "../experiments/ExperimentTable";
import { TABS, type Tab } from "../experiments/viewstate";
import { ArtifactsTab } from "./ArtifactsTab";
import { ConfigurationTab } from "./ConfigurationTab";
import { ConsoleTab } from "./ConsoleTab";
import { ExecutionTab } from "./ExecutionTab";
import { InfoTab } from "./InfoTab";

// the charts (uPlot) load with the first chart tab opened, not with the app
const ScalarsTab = lazy(() => import("./ScalarsTab").then((m) => ({ default: m.ScalarsTab })));
const PlotsTab = lazy(() => import("./PlotsTab").then((m) => ({ default: m.PlotsTab })));
const DebugSamplesTab = lazy(() => import("./DebugSamplesTab").then((m) => ({ default: m.DebugSamplesTab })));
const Notes = lazy(() => import("../reports/Notes").then((m) => ({ default: m.Notes })));
const SystemTab = lazy(() => import("./SystemTab").then((m) => ({ default: m.SystemTab })));

const TAB_NAMES: Record<Tab, string> = {
  info: "Info", scalars: "Scalars", plots: "Plots", samples: "Debug samples", execution: "Execution", configuration: "Configuration", artifacts: "Artifacts",
  console: "Console", system: "System", notes: "Notes",
};

export function ExperimentView({ id, tab, full, onTab, onFull, onClose }: {
  id: string; tab: Tab; full: boolean;
  onTab: (tab: Tab) => void; onFull: (full: boolean) => void; onClose: () => void;
}) {
  const tick = useTick();
  const [experiment, setExperiment] = useState<Experiment | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [version, setVersion] = useState(0); // bumped after a change, so the tabs re-read at once
  useEffect(() => setExperiment(null), [id]);
  useEffect(() => {
    let current = true;
    api.experiment(id).then((e) => { if (current) { setExperiment(e); setProblem(null); } },
      (e: unknown) => { if (current && e instanceof ApiError) setProblem(e); });
    return () => { current = false; };
  }, [id, tick, version]);

  /** Runs a change and shows what happened; the view re-reads. */
  const act = (what: string, change: () => Promise<unknown>) => {
    setMessage(null);
    change().then(
      (done) => {
        if (done && typeof done === "object" && "id" in done) setExperiment(done as Experiment);
        else setMessage(`${what}: accepted; it shows in a moment.`);
        setVersion((v) => v + 1);
      },
      (e: unknown) => setMessage(`${what} failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  };

  const tabs = useRef<(HTMLButtonElement | null)[]>([]);
  const keyOnTabs = (event: KeyboardEvent) => {
    const at = TABS.indexOf(tab);
    const to = event.key === "ArrowRight" ? (at + 1) % TABS.length
      : event.key === "ArrowLeft" ? (at + TABS.length - 1) % TABS.length
        : event.key === "Home" ? 0 : event.key === "End" ? TABS.length - 1 : -1;
    if (to < 0) return;
    event.preventDefault();
    onTab(TABS[to] ?? "info");
    tabs.current[to]?.focus();
  };

  if (problem && !experiment) {
    return (
      <aside className={`experiment${full ? " full" : ""}`} aria-label="Experiment">
        <p role="alert" className="notice">
          {problem.status === 404 ? `No experiment ${id} here: it was deleted, or it is in another workspace.` : problem.message}
        </p>
        <button type="button" onClick={onClose}>Close</button>
      </aside>
    );
  }
  if (!experiment) return <aside className={`experiment${full ? " full" : ""}`} aria-busy="true" aria-label="Experiment"><p className="muted">Loading…</p></aside>;
  const e = experiment;
  const panel = (): ReactNode => {
    switch (tab) {
      case "execution": return <ExecutionTab id={e.id} />;
      case "configuration": return <ConfigurationTab experiment={e} version={version} onChanged={() => setVersion((v) => v + 1)} />;
      case "artifacts": return <ArtifactsTab id={e.id} />;
      case "console": return <ConsoleTab experiment={e} />;
      case "scalars": return <ScalarsTab experiment={e} />;
      case "system": return <SystemTab experiment={e} />;
      case "plots": return <PlotsTab experiment={e} />;
      case "samples": return <DebugSamplesTab experiment={e} />;
      case "notes": return <Notes where={{ experiment: e.id }} label="Experiment notes" />;
      default: return <InfoTab experiment={e} act={act} />;
    }
  };
  return (
    <aside className={`experiment${full ? " full" : ""}`} aria-labelledby="experiment-title">
      <Header experiment={e} full={full} act={act} onFull={onFull} onClose={onClose} />
      {message && <p role="status" className="notice">{message} <button type="button" onClick={() => setMessage(null)}>Dismiss</button></p>}
      <div role="tablist" aria-label="Experiment details" className="tabs" onKeyDown={keyOnTabs}>
        {TABS.map((t, i) => (
          <button
            key={t} type="button" role="tab" id={`tab-${t}`} aria-selected={t === tab} aria-controls={`panel-${t}`}
            tabIndex={t === tab ? 0 : -1} ref={(el) => { tabs.current[i] = el; }} onClick={() => onTab(t)}
          >
            {TAB_NAMES[t]}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tabpanel" tabIndex={0}>
        <Suspense fallback={<p className="muted" aria-busy="true">Loading…</p>}>{panel()}</Suspense>
      </div>
    </aside>
  );
}

function Header({ experiment: e, full, act, onFull, onClose }: {
  experiment: Experiment; full: boolean; act: (what: string, change: () => Promise<unknown>) => void;
  onFull: (full: boolean) => void; onClose: () => void;
}) {
  const access = useAccess();
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(e.name);
  const [tag, setTag] = useState("");
  const [dialog, setDialog] = useState<"" | "stop" | "move" | "publish">("");
  const [project, setProject] = useState(e.project);
  const locked = e.published ? "Published experiments are read-only" : "";
  const why = access.readOnlyReason || locked;
  const link = `${window.location.origin}/experiments/${e.id}`;
  return (
    <header className="experiment-head">
      <div className="title-row">
        {renaming ? (
          <form onSubmit={(ev) => { ev.preventDefault(); setRenaming(false); if (name.trim() && name !== e.name) act("Rename", () => api.rename(e.id, { name: name.trim() })); }}>
            <label className="visually-hidden" htmlFor="rename">Name</label>
            <input id="rename" autoFocus value={name} maxLength={256} onChange={(ev) => setName(ev.target.value)} onBlur={() => setRenaming(false)}
              onKeyDown={(ev) => { if (ev.key === "Escape") { setName(e.name); setRenaming(false); } }} />
          </form>
        ) : (
          <h2 id="experiment-title" title={e.name}>{e.name || e.id}</h2>
        )}
        {!renaming && (
          <button type="button" disabled={!!why} title={why || "Rename"} onClick={() => { setName(e.name); setRenaming(true); }}>Rename</button>
        )}
        <StatusBadge status={e.status} stopRequested={e.stop_requested} />
        {e.published && <span className="badge">published</span>}
        {e.archived && <span className="badge">archived</span>}
      </div>
      <p className="muted small">
        <code>{e.id}</code> · {e.project} · {e.user || "no user"} · started {ago(e.started_at)}
        {e.status === "running" ? ` · running for ${duration(Date.now() / 1000 - e.started_at)}` : e.ended_at ? ` · took ${duration(e.ended_at - e.started_at)}` : ""}
      </p>
      <div className="tags editable" aria-label="Tags">
        {e.tags.map((t) => (
          <span key={t} className="tag">
            {t}
            {!why && <button type="button" className="tag-remove" aria-label={`Remove tag ${t}`} onClick={() => act("Remove tag", () => api.tags(e.id, [], [t]))}>×</button>}
          </span>
        ))}
        {!why && (
          <form className="inline" onSubmit={(ev) => { ev.preventDefault(); const t = tag.trim(); setTag(""); if (t) act("Add tag", () => api.tags(e.id, [t], [])); }}>
            <label className="visually-hidden" htmlFor="add-tag">Add a tag</label>
            <input id="add-tag" placeholder="+ tag" value={tag} maxLength={128} onChange={(ev) => setTag(ev.target.value)} size={8} />
          </form>
        )}
      </div>
      <div className="toolbar" role="toolbar" aria-label="Experiment actions">
        {e.status === "running" && (
          <button type="button" className="danger" disabled={!access.canWrite || e.stop_requested}
            title={access.readOnlyReason || (e.stop_requested ? "A stop was asked for; the run stops at its next check" : "Ask the run to stop")}
            onClick={() => setDialog("stop")}>
            {e.stop_requested ? "Stopping…" : "Stop"}
          </button>
        )}
        {e.archived
          ? <button type="button" disabled={!access.canWrite} title={access.readOnlyReason} onClick={() => act("Restore", () => api.lifecycle(e.id, "restore"))}>Restore</button>
          : <button type="button" disabled={!access.canWrite} title={access.readOnlyReason} onClick={() => act("Archive", () => api.lifecycle(e.id, "archive"))}>Archive</button>}
        <button type="button" disabled={!!why} title={why || "Lock the experiment against edits"} onClick={() => setDialog("publish")}>Publish</button>
        <button type="button" disabled={!access.canWrite} title={access.readOnlyReason} onClick={() => { setProject(e.project); setDialog("move"); }}>Move…</button>
        <CopyButton text={link} label="Copy link" />
        <button type="button" onClick={() => onFull(!full)}>{full ? "Beside the table" : "Full screen"}</button>
        <button type="button" onClick={onClose} aria-label="Close the experiment">Close</button>
      </div>
      <Dialog title="Stop this experiment?" open={dialog === "stop"} onClose={() => setDialog("")}>
        <p>The run gets the request at its next check (the SDK polls every few seconds), ends its work and reports itself stopped. This cannot be undone.</p>
        <div className="dialog-actions">
          <button type="button" onClick={() => setDialog("")}>Cancel</button>
          <button type="button" className="danger" onClick={() => { setDialog(""); act("Stop", () => api.stop(e.id)); }}>Stop the run</button>
        </div>
      </Dialog>
      <Dialog title="Publish this experiment?" open={dialog === "publish"} onClose={() => setDialog("")}>
        <p>Publishing locks its name, description, hyperparameters and properties for good. Tags, archive and move stay possible.</p>
        <div className="dialog-actions">
          <button type="button" onClick={() => setDialog("")}>Cancel</button>
          <button type="button" onClick={() => { setDialog(""); act("Publish", () => api.lifecycle(e.id, "publish")); }}>Publish</button>
        </div>
      </Dialog>
      <Dialog title="Move to a project" open={dialog === "move"} onClose={() => setDialog("")}>
        <form className="stack" onSubmit={(ev) => { ev.preventDefault(); setDialog(""); if (project.trim() && project !== e.project) act("Move", () => api.move(e.id, project.trim())); }}>
          <label>Project path (created when it does not exist; "/" nests)
            <input value={project} onChange={(ev) => setProject(ev.target.value)} required maxLength={512} />
          </label>
          <div className="dialog-actions">
            <button type="button" onClick={() => setDialog("")}>Cancel</button>
            <button type="submit">Move</button>
          </div>
        </form>
      </Dialog>
    </header>
  );
}
