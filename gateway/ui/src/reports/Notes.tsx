// The markdown notes of a project or an experiment (Comet's Notes): the report editor and
// renderer, saved with the version they were written on.
import { useEffect, useState } from "react";
import { ApiError, api, type Note } from "../api";
import { ago } from "../format";
import { useAccess } from "../shell/access";
import { MarkdownEditor, MarkdownView } from "./Markdown";

export function Notes({ where, label }: { where: { project?: string; experiment?: string }; label: string }) {
  const access = useAccess();
  const [note, setNote] = useState<Note | null>(null);
  const [text, setText] = useState("");
  const [editing, setEditing] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const key = `${where.project ?? ""}|${where.experiment ?? ""}`;
  const load = () => api.note(where).then((n) => { setNote(n); setText(n.text); setProblem(null); }, (e: unknown) => setProblem(e instanceof Error ? e.message : String(e)));
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => { setEditing(false); void load(); }, [key]);
  const save = () => {
    if (!note) return;
    api.setNote(where, note.version, text).then(
      (n) => { if ("text" in n) setNote(n); setEditing(false); setProblem(null); },
      (e: unknown) => setProblem(e instanceof ApiError && e.status === 409
        ? `Someone saved these notes while you were writing (${e.message}). Your text is still here: copy it, then reload.`
        : e instanceof Error ? e.message : String(e)),
    );
  };
  if (!note) return problem ? <p role="alert" className="notice">{problem}</p> : <p className="muted" aria-busy="true">Loading the notes…</p>;
  return (
    <section className="notes" aria-label={label}>
      {editing ? (
        <MarkdownEditor text={text} onChange={setText} label={label} />
      ) : (
        note.text ? <MarkdownView text={note.text} label={label} /> : <p className="empty">No notes yet.{access.canWrite ? " Write down what this is about, what worked and what to try next." : ""}</p>
      )}
      {problem && <p role="alert" className="notice">{problem}</p>}
      <div className="note-actions">
        {access.canWrite && (editing
          ? <><button type="button" className="primary" onClick={save}>Save notes</button><button type="button" onClick={() => { setEditing(false); setText(note.text); }}>Cancel</button></>
          : <button type="button" onClick={() => setEditing(true)}>Edit notes</button>)}
        {note.updated_at && <span className="muted">last written by {note.user || "a service key"} {ago(note.updated_at)}</span>}
        {editing && problem && <button type="button" onClick={() => void load()}>Reload</button>}
      </div>
    </section>
  );
}
