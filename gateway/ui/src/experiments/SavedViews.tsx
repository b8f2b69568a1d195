// Saved views (Comet's): the table's filter, columns, sort, grouping and panels under a name,
// shared with the workspace. Pick one to open it; what you change afterwards lives in the URL
// and is marked "unsaved", to save over the view or discard. One view is the project's default:
// a plain visit to the project opens it.
import { useEffect, useRef, useState } from "react";
import { ApiError, api, type Schemas } from "../api";
import { useTick } from "../live";
import { navigate } from "../route";
import { useAccess } from "../shell/access";
import { Dialog } from "../ui/Dialog";
import { fromSaved, savedState, viewUrl, type ViewState } from "./viewstate";

type Views = Schemas["SavedViews"];

export function SavedViews({ view, workspace, plainVisit }: { view: ViewState; workspace: string; plainVisit: boolean }) {
  const access = useAccess();
  const tick = useTick();
  const [views, setViews] = useState<Views | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [naming, setNaming] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const withWorkspace = (to: string) => (workspace ? `${to}${to.includes("?") ? "&" : "?"}workspace=${encodeURIComponent(workspace)}` : to);
  const open = (name: string, list: Views, replace = false) => {
    const saved = list.views.find((v) => v.name === name);
    if (saved) navigate(withWorkspace(viewUrl(fromSaved(view.project, saved.state, name))), replace);
  };
  const arrived = useRef(""); // the project whose first answer was seen: only a plain visit's opens the default
  useEffect(() => {
    let current = true;
    api.views(view.project, workspace || undefined).then((list) => {
      if (!current) return;
      setViews(list);
      const first = arrived.current !== view.project;
      arrived.current = view.project;
      if (first && plainVisit && list.default_view) open(list.default_view, list, true);
    }, (e: unknown) => current && setProblem(e instanceof ApiError ? e.message : String(e)));
    return () => { current = false; };
  }, [view.project, workspace, Math.floor(tick / 15)]); // eslint-disable-line react-hooks/exhaustive-deps

  const applied = (answer: Views | Schemas["Accepted"], name: string | null) => {
    if ("views" in answer) {
      setViews(answer);
      setProblem(null);
      if (name !== null) navigate(withWorkspace(viewUrl({ ...view, saved: name })), true);
    } else setProblem("Saved; it shows here in a moment.");
  };
  const failed = (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e));
  const current = views?.views.find((v) => v.name === view.saved) ?? null;
  const changed = current !== null && current.state !== savedState(view);
  const can = access.canWrite;
  const why = can ? undefined : access.readOnlyReason;
  return (
    <div className="saved-views" role="group" aria-label="Saved views">
      <label className="inline-label">View
        <select aria-label="Saved view" value={current ? current.name : ""} onChange={(e) => {
          if (e.target.value && views) open(e.target.value, views);
          else navigate(withWorkspace(viewUrl({ ...view, saved: "" })));
        }}>
          <option value="">{views?.views.length ? "— none —" : "no saved views"}</option>
          {views?.views.map((v) => <option key={v.name} value={v.name}>{v.name}{v.default ? " (default)" : ""}</option>)}
        </select>
      </label>
      {changed && <span className="unsaved" role="status">unsaved changes</span>}
      {changed && <button type="button" disabled={!can} title={why} onClick={() => api.saveView({ project: view.project, name: current.name, state: savedState(view) }).then((a) => applied(a, current.name), failed)}>Save</button>}
      {changed && <button type="button" onClick={() => views && open(current.name, views)}>Discard</button>}
      <button type="button" disabled={!can} title={why} onClick={() => setNaming(true)}>Save as…</button>
      {current && !current.default && (
        <button type="button" disabled={!can} title={why} onClick={() => api.defaultView(view.project, current.name).then((a) => applied(a, null), failed)}>Make default</button>
      )}
      {current && <button type="button" disabled={!can} title={why} onClick={() => setConfirm(true)}>Delete view</button>}
      {problem && <span role="alert" className="error">{problem}</span>}
      {naming && <SaveAs project={view.project} state={savedState(view)} taken={views?.views.map((v) => v.name) ?? []}
        onClose={() => setNaming(false)} onSaved={(a, name) => { setNaming(false); applied(a, name); }} />}
      {confirm && current && (
        <Dialog title={`Delete the view “${current.name}”?`} open onClose={() => setConfirm(false)}>
          <p>Everyone in the workspace loses it{current.default ? "; the project will have no default view" : ""}. The experiments stay as they are.</p>
          <div className="dialog-actions">
            <button type="button" onClick={() => setConfirm(false)}>Cancel</button>
            <button type="button" className="primary" onClick={() => {
              setConfirm(false);
              api.deleteView(view.project, current.name).then((a) => applied(a, ""), failed);
            }}>Delete</button>
          </div>
        </Dialog>
      )}
    </div>
  );
}

function SaveAs({ project, state, taken, onClose, onSaved }: {
  project: string; state: string; taken: string[]; onClose: () => void; onSaved: (answer: Views | Schemas["Accepted"], name: string) => void;
}) {
  const [name, setName] = useState("");
  const [asDefault, setAsDefault] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const trimmed = name.trim();
  return (
    <Dialog title="Save the view" open onClose={onClose}>
      <form onSubmit={(e) => {
        e.preventDefault();
        api.saveView({ project, name: trimmed, state, default: asDefault }).then((a) => onSaved(a, trimmed),
          (err: unknown) => setProblem(err instanceof ApiError ? err.message : String(err)));
      }}>
        <label>Name
          <input value={name} maxLength={100} onChange={(e) => setName(e.target.value)} autoFocus aria-invalid={problem ? true : undefined} />
        </label>
        {taken.includes(trimmed) && <p className="muted small">A view of this name exists: saving replaces it.</p>}
        <label className="check-label"><input type="checkbox" checked={asDefault} onChange={(e) => setAsDefault(e.target.checked)} />the project's default view (a plain visit opens it)</label>
        <p className="muted small">Shared with everyone in the workspace: the filter, columns, sort, grouping and panels.</p>
        {problem && <p role="alert" className="error">{problem}</p>}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={!trimmed}>Save</button>
        </div>
      </form>
    </Dialog>
  );
}
