// The Artifacts tab: models and artifacts with size, checksum, type and metadata; a preview of
// text files, a download (a short-lived signed link from the API) and the storage key to copy.
import { useEffect, useState } from "react";
import { ApiError, api, type Artifact } from "../api";
import { bytes, datetime } from "../format";
import { useTick } from "../live";
import { CopyButton } from "../ui/Dialog";

export function ArtifactsTab({ id }: { id: string }) {
  const tick = useTick();
  const [models, setModels] = useState<Artifact[] | null>(null);
  const [artifacts, setArtifacts] = useState<Artifact[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const failed = (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e));
    api.models(id).then((m) => setModels(m.models), failed);
    api.artifacts(id).then((a) => setArtifacts(a.artifacts), failed);
  }, [id, Math.floor(tick / 15)]); // links expire: re-read every 30 s
  if (problem && !artifacts) return <p role="alert" className="notice">{problem}</p>;
  if (!models || !artifacts) return <p className="muted" aria-busy="true">Loading…</p>;
  return (
    <div className="stack">
      <Files title="Models" kind="model" id={id} files={models} empty="No models. Frameworks' save calls register them, or run.log_model(…)." />
      <Files title="Artifacts" kind="artifact" id={id} files={artifacts} empty="No artifacts. run.upload_artifact(name, path_or_object) stores one." />
    </div>
  );
}

function Files({ title, kind, id, files, empty }: { title: string; kind: "model" | "artifact"; id: string; files: Artifact[]; empty: string }) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section aria-labelledby={`${kind}s-title`}>
      <h3 id={`${kind}s-title`}>{title} <span className="muted">{files.length}</span></h3>
      {files.length === 0 ? <p className="muted">{empty}</p> : (
        <ul className="files">
          {files.map((f) => (
            <li key={f.name} className="file">
              <div className="title-row">
                <strong title={f.name}>{f.name}</strong>
                {f.framework && <span className="badge">{f.framework}</span>}
                {f.direction === "input" && <span className="badge">input</span>}
                <span className="muted">{bytes(f.size)} · {f.content_type || f.type || "unknown type"} · {datetime(f.registered_at)}</span>
              </div>
              <div className="toolbar">
                {f.url ? <a className="button" href={f.url} download={f.name.split("/").pop()}>Download</a> : <span className="muted">not uploaded yet</span>}
                {f.preview_url && <button type="button" aria-expanded={open === f.name} onClick={() => setOpen(open === f.name ? null : f.name)}>{open === f.name ? "Hide preview" : "Preview"}</button>}
                <CopyButton text={f.key} label="Copy key" />
              </div>
              <dl className="facts small">
                <dt>Key</dt><dd><code>{f.key}</code></dd>
                <dt>SHA-256</dt><dd><code title={f.sha256}>{f.sha256 ? `${f.sha256.slice(0, 16)}…` : "—"}</code>{f.sha256 && <CopyButton text={f.sha256} label="Copy SHA-256" />}</dd>
                {Object.entries(f.metadata).map(([k, v]) => <FactRow key={k} name={k} value={v} />)}
              </dl>
              {open === f.name && <Preview id={id} kind={kind} name={f.name} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const FactRow = ({ name, value }: { name: string; value: string }) => <><dt>{name}</dt><dd className="prewrap">{value}</dd></>;

function Preview({ id, kind, name }: { id: string; kind: "model" | "artifact"; name: string }) {
  const [text, setText] = useState<string | null>(null);
  const [note, setNote] = useState("");
  useEffect(() => {
    api.preview(id, kind, name).then(
      (p) => { setText(p.text); setNote(p.truncated ? "The first 16 KiB; download it for the rest." : ""); },
      (e: unknown) => { setText(""); setNote(e instanceof Error ? e.message : String(e)); },
    );
  }, [id, kind, name]);
  if (text === null) return <p className="muted" aria-busy="true">Loading the preview…</p>;
  return <>{text && <pre tabIndex={0} className="code short" aria-label={`Preview of ${name}`}>{text}</pre>}{note && <p className="muted">{note}</p>}</>;
}
