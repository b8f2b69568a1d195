// The Info tab: what the experiment is (times, who, why it ended), its description, and the
// last / min / max of every metric it reported.
import { useState } from "react";
import { api, type Experiment } from "../api";
import { datetime, duration, number } from "../format";
import { useAccess } from "../shell/access";

export function InfoTab({ experiment: e, act }: {
  experiment: Experiment; act: (what: string, change: () => Promise<unknown>) => void;
}) {
  const access = useAccess();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(e.description);
  const why = access.readOnlyReason || (e.published ? "Published experiments are read-only" : "");
  const end = e.ended_at ?? (e.status === "running" ? Date.now() / 1000 : e.updated_at);
  const metrics = e.metrics.filter((m) => !m.metric.startsWith(":monitor:"));
  return (
    <div className="stack">
      <dl className="facts">
        <dt>Status</dt><dd>{e.status}{e.status_reason ? ` — ${e.status_reason}` : ""}{e.stop_requested && e.status === "running" ? " (stop requested)" : ""}</dd>
        <dt>Project</dt><dd>{e.project}</dd>
        <dt>User</dt><dd>{e.user || "—"}</dd>
        <dt>Created</dt><dd>{datetime(e.created_at)}</dd>
        <dt>Started</dt><dd>{datetime(e.started_at)}</dd>
        <dt>Ended</dt><dd>{e.ended_at ? datetime(e.ended_at) : "—"}</dd>
        <dt>Duration</dt><dd>{duration(end - e.started_at)}</dd>
        <dt>Last update</dt><dd>{datetime(e.updated_at)}</dd>
        <dt>Last heard from</dt><dd>{e.last_seen ? datetime(e.last_seen) : "—"}</dd>
      </dl>
      <section aria-labelledby="description-title">
        <div className="title-row">
          <h3 id="description-title">Description</h3>
          {!editing && <button type="button" disabled={!!why} title={why || "Edit the description"} onClick={() => { setText(e.description); setEditing(true); }}>Edit</button>}
        </div>
        {editing ? (
          <form className="stack" onSubmit={(ev) => { ev.preventDefault(); setEditing(false); act("Description", () => api.rename(e.id, { description: text })); }}>
            <label className="visually-hidden" htmlFor="description">Description</label>
            <textarea id="description" rows={4} value={text} maxLength={10000} onChange={(ev) => setText(ev.target.value)} />
            <div className="dialog-actions">
              <button type="button" onClick={() => setEditing(false)}>Cancel</button>
              <button type="submit">Save</button>
            </div>
          </form>
        ) : <p className={e.description ? "prewrap" : "muted"}>{e.description || "No description."}</p>}
      </section>
      <section aria-labelledby="metrics-title">
        <h3 id="metrics-title">Metrics</h3>
        {metrics.length === 0 ? <p className="muted">No scalars reported yet.</p> : (
          <div className="table-wrap">
            <table className="plain">
              <thead><tr><th scope="col">Metric</th><th scope="col">Variant</th><th scope="col" className="num">Last</th><th scope="col" className="num">Min</th><th scope="col" className="num">Max</th><th scope="col" className="num">Iteration</th></tr></thead>
              <tbody>
                {metrics.map((m) => (
                  <tr key={`${m.metric}/${m.variant}`}>
                    <td>{m.metric}</td><td>{m.variant}</td>
                    <td className="num">{number(m.last)}</td><td className="num">{number(m.min)}</td><td className="num">{number(m.max)}</td>
                    <td className="num">{m.last_iteration}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
