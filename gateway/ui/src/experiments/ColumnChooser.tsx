// The column chooser: every attribute, each metric series' last/min/max, hyperparameters and
// user properties, searchable; the chosen ones in order, moved with buttons (or dragged in the
// table's header).
import { useState } from "react";
import { Dialog } from "../ui/Dialog";
import { kindOf, label } from "./querylang";
import { DEFAULT_COLUMNS } from "./viewstate";

const GROUPS = [
  ["attributes", "Attributes"], ["metrics", "Metrics"], ["params", "Hyperparameters"], ["tags", "Properties"],
] as const;

export function ColumnChooser({ identifiers, truncated, columns, onChange }: {
  identifiers: readonly string[]; truncated: boolean; columns: string[]; onChange: (columns: string[]) => void;
}) {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState("");
  const toggle = (id: string, on: boolean) => onChange(on ? [...columns, id] : columns.filter((c) => c !== id));
  const move = (i: number, by: number) => {
    const next = [...columns];
    const [item] = next.splice(i, 1);
    next.splice(Math.max(0, Math.min(next.length, i + by)), 0, item!);
    onChange(next);
  };
  const needle = search.toLowerCase();
  const offered = identifiers.filter((i) => i.toLowerCase().includes(needle));
  return (
    <>
      <button type="button" onClick={() => setOpen(true)} aria-haspopup="dialog">Columns ({columns.length})</button>
      <Dialog title="Columns" open={open} onClose={() => setOpen(false)}>
        <div className="chooser">
          <div>
            <label className="stack">
              Find a column
              <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="loss, lr, status…" autoFocus />
            </label>
            {truncated && <p className="muted">This project has more columns than are listed; search narrows them.</p>}
            <div className="chooser-groups">
              {GROUPS.map(([kind, title]) => {
                const ids = offered.filter((i) => kindOf(i) === kind);
                if (!ids.length) return null;
                return (
                  <fieldset key={kind}>
                    <legend>{title}</legend>
                    {ids.slice(0, 300).map((id) => kind === "metrics" ? (
                      <div key={id} className="metric-choice">
                        <span title={id}>{label(id)}</span>
                        {["", ".min", ".max"].map((agg) => (
                          <label key={agg}>
                            <input type="checkbox" checked={columns.includes(id + agg)} onChange={(e) => toggle(id + agg, e.target.checked)} />
                            {agg ? agg.slice(1) : "last"}
                          </label>
                        ))}
                      </div>
                    ) : (
                      <label key={id} className="choice" title={id}>
                        <input type="checkbox" checked={columns.includes(id)} onChange={(e) => toggle(id, e.target.checked)} />
                        {label(id)}
                      </label>
                    ))}
                  </fieldset>
                );
              })}
            </div>
          </div>
          <div>
            <h3>Shown, in order</h3>
            <ol className="chosen">
              {columns.map((id, i) => (
                <li key={id}>
                  <span title={id}>{label(id)}</span>
                  <button type="button" aria-label={`Move ${label(id)} left`} disabled={i === 0} onClick={() => move(i, -1)}>↑</button>
                  <button type="button" aria-label={`Move ${label(id)} right`} disabled={i === columns.length - 1} onClick={() => move(i, 1)}>↓</button>
                  <button type="button" aria-label={`Hide ${label(id)}`} onClick={() => toggle(id, false)}>✕</button>
                </li>
              ))}
            </ol>
            <button type="button" onClick={() => onChange(DEFAULT_COLUMNS)}>Reset to defaults</button>
          </div>
        </div>
        <div className="dialog-actions"><button type="button" className="primary" onClick={() => setOpen(false)}>Done</button></div>
      </Dialog>
    </>
  );
}
