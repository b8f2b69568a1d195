// The Configuration tab: hyperparameters by section, user properties and configuration objects.
// Sections and properties are edited in place (a draft, then Save) unless the experiment is
// published or the person may only read.
import { useEffect, useState } from "react";
import { ApiError, api, type Configuration, type Experiment } from "../api";
import { useTick } from "../live";
import { useAccess } from "../shell/access";
import { CopyButton } from "../ui/Dialog";
import { Highlighted } from "../ui/highlight";

type Row = { name: string; value: string; type?: string; description?: string };

export function ConfigurationTab({ experiment: e, version, onChanged }: {
  experiment: Experiment; version: number; onChanged: () => void;
}) {
  const tick = useTick();
  const access = useAccess();
  const [config, setConfig] = useState<Configuration | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  useEffect(() => {
    api.configuration(e.id).then((c) => { setConfig(c); setProblem(null); },
      (err: unknown) => setProblem(err instanceof ApiError ? err.message : String(err)));
  }, [e.id, version, e.status === "running" ? tick : 0]); // eslint-disable-line react-hooks/exhaustive-deps
  if (problem && !config) return <p role="alert" className="notice">{problem}</p>;
  if (!config) return <p className="muted" aria-busy="true">Loading…</p>;
  const why = access.readOnlyReason || (e.published ? "Published experiments are read-only" : "");
  const match = (r: Row) => !filter || `${r.name} ${r.value}`.toLowerCase().includes(filter.toLowerCase());
  const properties = Object.entries(config.properties).map(([name, value]) => ({ name, value }));
  return (
    <div className="stack">
      {e.published && <p className="notice" role="note">Published experiments are read-only: clone the run to change its configuration.</p>}
      <div className="title-row">
        <label className="visually-hidden" htmlFor="config-filter">Filter parameters</label>
        <input id="config-filter" type="search" placeholder="Filter parameters" value={filter} onChange={(ev) => setFilter(ev.target.value)} />
      </div>
      <h3>Hyperparameters</h3>
      {config.hyperparameters.length === 0 && <p className="muted">No hyperparameters. The SDK records argparse arguments and what run.connect(…) is given.</p>}
      {config.hyperparameters.map((s) => (
        <EditableTable
          key={s.section} title={s.section} rows={s.params.filter(match)} why={why} allowAdd
          save={(set, remove) => api.editHyperparameters(e.id, s.section, set, remove)} onSaved={onChanged}
        />
      ))}
      {!why && <NewSection save={(section, set) => api.editHyperparameters(e.id, section, set)} onSaved={onChanged} />}
      <h3>Properties</h3>
      <EditableTable
        title="User properties" rows={properties.filter(match)} why={why} allowAdd
        save={(set, remove) => api.editProperties(e.id, set, remove)} onSaved={onChanged}
      />
      <h3>Configuration objects</h3>
      {config.configurations.length === 0 ? <p className="muted">None. run.connect_configuration(…) stores a file or a dictionary here.</p>
        : config.configurations.map((c) => (
          <section key={c.name} aria-label={`Configuration ${c.name}`}>
            <div className="title-row"><h4>{c.name}</h4><span className="muted">{c.content_type}</span><CopyButton text={c.text} /></div>
            {c.description && <p className="muted">{c.description}</p>}
            <Highlighted text={c.text} label={`Configuration ${c.name}`} />
          </section>
        ))}
    </div>
  );
}

function EditableTable({ title, rows, why, allowAdd, save, onSaved }: {
  title: string; rows: Row[]; why: string; allowAdd: boolean;
  save: (set: Record<string, string>, remove: string[]) => Promise<unknown>; onSaved: () => void;
}) {
  const [draft, setDraft] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const start = () => { setDraft(rows.map((r) => ({ ...r }))); setError(null); };
  const submit = () => {
    if (!draft) return;
    const before = new Map(rows.map((r) => [r.name, r.value]));
    const set: Record<string, string> = {};
    for (const r of draft) {
      const name = r.name.trim();
      if (name && before.get(name) !== r.value) set[name] = r.value;
    }
    const kept = new Set(draft.map((r) => r.name.trim()));
    const remove = rows.map((r) => r.name).filter((n) => !kept.has(n));
    if (!Object.keys(set).length && !remove.length) { setDraft(null); return; }
    setBusy(true);
    save(set, remove).then(
      () => { setDraft(null); setBusy(false); onSaved(); },
      (err: unknown) => { setBusy(false); setError(err instanceof Error ? err.message : String(err)); },
    );
  };
  const id = `section-${title.replace(/\W+/g, "-")}`;
  return (
    <section aria-labelledby={id} className="config-section">
      <div className="title-row">
        <h4 id={id}>{title}</h4>
        {draft ? (
          <>
            <button type="button" onClick={() => setDraft(null)} disabled={busy}>Cancel</button>
            <button type="button" onClick={submit} disabled={busy}>{busy ? "Saving…" : "Save"}</button>
          </>
        ) : <button type="button" disabled={!!why} title={why || `Edit ${title}`} onClick={start}>Edit</button>}
      </div>
      {error && <p role="alert" className="notice">{error}</p>}
      {!draft && rows.length === 0 && <p className="muted">Nothing here.</p>}
      {(draft ?? rows).length > 0 && (
        <div className="table-wrap">
          <table className="plain params">
            <thead><tr><th scope="col">Name</th><th scope="col">Value</th>{!draft && <th scope="col">Type</th>}{draft && <th scope="col"><span className="visually-hidden">Remove</span></th>}</tr></thead>
            <tbody>
              {draft ? draft.map((r, i) => (
                <tr key={i}>
                  <td>{rows.some((o) => o.name === r.name) ? <code>{r.name}</code>
                    : <input aria-label="Parameter name" value={r.name} maxLength={256} onChange={(ev) => setDraft(draft.map((d, j) => (j === i ? { ...d, name: ev.target.value } : d)))} />}</td>
                  <td><input aria-label={`Value of ${r.name || "the new parameter"}`} value={r.value} onChange={(ev) => setDraft(draft.map((d, j) => (j === i ? { ...d, value: ev.target.value } : d)))} /></td>
                  <td><button type="button" aria-label={`Remove ${r.name}`} onClick={() => setDraft(draft.filter((_, j) => j !== i))}>×</button></td>
                </tr>
              )) : rows.map((r) => (
                <tr key={r.name}>
                  <th scope="row" title={[r.type && `type: ${r.type}`, r.description].filter(Boolean).join("\n") || undefined}>
                    <code>{r.name}</code>
                    {r.description && <span className="param-note">{r.description}</span>}
                  </th>
                  <td className="prewrap">{r.value}</td>
                  <td className="muted">{r.type ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {draft && allowAdd && <button type="button" onClick={() => setDraft([...draft, { name: "", value: "" }])}>+ Add</button>}
    </section>
  );
}

function NewSection({ save, onSaved }: { save: (section: string, set: Record<string, string>) => Promise<unknown>; onSaved: () => void }) {
  const [open, setOpen] = useState(false);
  const [section, setSection] = useState("");
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  if (!open) return <button type="button" onClick={() => setOpen(true)}>+ New section</button>;
  return (
    <form className="inline-form" onSubmit={(ev) => {
      ev.preventDefault();
      save(section.trim(), { [name.trim()]: value }).then(() => { setOpen(false); setSection(""); setName(""); setValue(""); onSaved(); },
        (err: unknown) => setError(err instanceof Error ? err.message : String(err)));
    }}>
      <label>Section <input value={section} required maxLength={256} onChange={(ev) => setSection(ev.target.value)} /></label>
      <label>Name <input value={name} required maxLength={256} onChange={(ev) => setName(ev.target.value)} /></label>
      <label>Value <input value={value} onChange={(ev) => setValue(ev.target.value)} /></label>
      <button type="submit">Add</button>
      <button type="button" onClick={() => setOpen(false)}>Cancel</button>
      {error && <p role="alert" className="notice">{error}</p>}
    </form>
  );
}
