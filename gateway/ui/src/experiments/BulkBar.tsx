// Actions on the selected experiments (or every one the filter matches): tags, archive, move,
// publish, stop; in the Archive: restore, delete, clear. Sent 500 at a time, with progress, and
// each experiment's refusal reported.
import { useState } from "react";
import { ApiError, api } from "../api";
import { plural } from "../format";
import { useAccess } from "../shell/access";
import { navigate } from "../route";
import { Dialog } from "../ui/Dialog";
import { allIds } from "./rows";
import type { Selection } from "./ExperimentTable";

type Action = "tags" | "archive" | "move" | "publish" | "stop" | "restore" | "delete" | "clear";
const CONFIRM: Partial<Record<Action, string>> = {
  publish: "Published experiments are read-only for good: their name, hyperparameters and properties can no longer change.",
  stop: "Each running script is asked to stop: it raises InterruptedExperiment and ends as stopped.",
  delete: "Deleted experiments leave the Archive for the bin; they can be restored until they are cleared.",
  clear: "Clearing removes for good their metadata, metrics, console, plots, debug samples and files. It cannot be undone.",
};

export function BulkBar({ selection, total, params, archive, onDone }: {
  selection: Selection; total: number | null; params: Record<string, string | boolean>; archive: boolean;
  onDone: (message: string) => void;
}) {
  const access = useAccess();
  const [dialog, setDialog] = useState<Action | null>(null);
  const [tagsAdd, setTagsAdd] = useState("");
  const [tagsRemove, setTagsRemove] = useState("");
  const [project, setProject] = useState("");
  const [progress, setProgress] = useState<string | null>(null);
  const count = selection.all ? (total ?? 0) : selection.ids.size;
  if (count === 0) return null;

  const run = async (action: Action) => {
    setDialog(null);
    try {
      setProgress("Collecting the experiments…");
      const ids = selection.all ? await allIds(params, (d, t) => setProgress(`Collecting ${d} of ${t}…`)) : [...selection.ids];
      let refused = 0;
      let firstError = "";
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        setProgress(`${verb(action)} ${Math.min(i + 500, ids.length)} of ${ids.length}…`);
        if (action === "clear") { // from the Archive: deleted first, then cleared
          await api.bulk({ action: "delete", ids: chunk });
          for (const id of chunk) {
            const error = await clearOne(id);
            if (error) {
              refused += 1;
              firstError ||= error;
            }
          }
          continue;
        }
        const body: Parameters<typeof api.bulk>[0] = { action, ids: chunk };
        if (action === "tags") {
          body.add = split(tagsAdd);
          body.remove = split(tagsRemove);
        }
        if (action === "move") body.project = project.trim();
        const outcome = await api.bulk(body);
        for (const r of outcome.results) {
          if (r.status !== 200) {
            refused += 1;
            firstError ||= r.error ?? `${r.status}`;
          }
        }
      }
      setProgress(null);
      onDone(`${verb(action)} ${plural(ids.length - refused, "experiment")} done` + (refused ? `; ${refused} refused (${firstError})` : ""));
    } catch (e) {
      setProgress(null);
      onDone(e instanceof ApiError ? e.message : String(e));
    }
  };
  const ask = (action: Action) => (action in CONFIRM || action === "tags" || action === "move" ? setDialog(action) : void run(action));
  const can = access.canWrite;
  const actions: Action[] = archive ? ["restore", "delete", "clear"] : ["tags", "archive", "move", "publish", "stop"];
  return (
    <div className="bulkbar" role="toolbar" aria-label="Bulk actions">
      <strong>{plural(count, "experiment")} selected</strong>
      {!archive && (
        <button type="button" disabled={selection.all || count < 2 || count > 10}
          title={count < 2 || count > 10 || selection.all ? "Compare takes 2 to 10 experiments" : "Side by side"}
          onClick={() => navigate(`/compare?ids=${[...selection.ids].join(",")}${params.workspace ? `&workspace=${encodeURIComponent(String(params.workspace))}` : ""}`)}>
          Compare
        </button>
      )}
      {actions.map((action) => (
        <button
          key={action} type="button" disabled={!can || progress !== null} title={can ? undefined : access.readOnlyReason}
          className={action === "clear" ? "danger" : undefined} onClick={() => ask(action)}
        >{TITLES[action]}</button>
      ))}
      {progress && <span role="status" className="muted"><progress aria-label="Progress" /> {progress}</span>}
      <Dialog title={dialog ? `${TITLES[dialog]}: ${plural(count, "experiment")}` : ""} open={dialog !== null} onClose={() => setDialog(null)}>
        <form onSubmit={(e) => { e.preventDefault(); if (dialog) void run(dialog); }}>
          {dialog === "tags" && (
            <>
              <label className="stack">Add tags (comma-separated)<input value={tagsAdd} onChange={(e) => setTagsAdd(e.target.value)} autoFocus /></label>
              <label className="stack">Remove tags (comma-separated)<input value={tagsRemove} onChange={(e) => setTagsRemove(e.target.value)} /></label>
            </>
          )}
          {dialog === "move" && (
            <label className="stack">
              To the project (created if it does not exist)
              <input value={project} onChange={(e) => setProject(e.target.value)} placeholder="team/new-project" required autoFocus />
            </label>
          )}
          {dialog && CONFIRM[dialog] && <p>{CONFIRM[dialog]}</p>}
          <div className="dialog-actions">
            <button type="button" onClick={() => setDialog(null)}>Cancel</button>
            <button type="submit" className={dialog === "clear" ? "danger primary" : "primary"}
              disabled={(dialog === "tags" && !split(tagsAdd).length && !split(tagsRemove).length) || (dialog === "move" && !project.trim())}>
              {dialog ? TITLES[dialog] : ""}
            </button>
          </div>
        </form>
      </Dialog>
    </div>
  );
}

const TITLES: Record<Action, string> = {
  tags: "Tags…", archive: "Archive", move: "Move…", publish: "Publish…", stop: "Stop…", restore: "Restore",
  delete: "Delete…", clear: "Clear for good…",
};
const verb = (action: Action): string => ({
  tags: "Tagging", archive: "Archiving", move: "Moving", publish: "Publishing", stop: "Stopping", restore: "Restoring",
  delete: "Deleting", clear: "Clearing",
})[action];
const split = (text: string): string[] => text.split(",").map((t) => t.trim()).filter(Boolean);

/** Clears one deleted experiment; the deletion may take a moment to be seen (409 meanwhile). */
async function clearOne(id: string): Promise<string | null> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await api.lifecycle(id, "clear");
      return null;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 409 || attempt >= 10) return e instanceof Error ? e.message : String(e);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}
