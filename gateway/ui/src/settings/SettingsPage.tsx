// Settings: who you are, API keys (create — the secret shown once —, rotate, revoke), the
// workspace's members and the origins allowed to frame its widgets (admins).
import { useEffect, useState, type FormEvent } from "react";
import { ApiError, api, type ApiKey, type Member, type Role, type Workspace } from "../api";
import { ago, datetime } from "../format";
import { useAccess } from "../shell/access";
import { CopyButton, Dialog } from "../ui/Dialog";

const ROLES: Role[] = ["viewer", "member", "admin"];
const message = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));

export function SettingsPage() {
  const access = useAccess();
  const session = access.session;
  const [workspace, setWorkspace] = useState<Workspace | null>(null);
  useEffect(() => { api.workspaces().then((w) => setWorkspace(w.workspaces[0] ?? null), () => undefined); }, []);
  if (!session) return <p className="notice">Sign in to see your settings.</p>;
  return (
    <section aria-labelledby="settings-title" className="settings stack">
      <h1 id="settings-title">Settings</h1>
      <section aria-labelledby="me-title" className="panel">
        <h2 id="me-title">You</h2>
        <dl className="facts">
          <dt>User</dt><dd>{session.user ?? "a service key (no user)"}</dd>
          <dt>Workspace</dt><dd>{workspace?.name || session.workspace} <code>{session.workspace}</code></dd>
          <dt>Role</dt><dd>{session.role}</dd>
          <dt>Signed in with key</dt><dd><code>{session.key_id}</code></dd>
          <dt>Session ends</dt><dd>{session.expires_at ? datetime(session.expires_at) : "—"}</dd>
        </dl>
      </section>
      <Keys />
      {access.isAdmin && <Members workspace={session.workspace} />}
      {access.isAdmin && workspace && <EmbedOrigins workspace={workspace} onSaved={setWorkspace} />}
    </section>
  );
}

function Keys() {
  const access = useAccess();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ title: string; key: string } | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [user, setUser] = useState("");
  const [confirm, setConfirm] = useState<{ action: "rotate" | "revoke"; key: ApiKey } | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => { api.keys().then((k) => setKeys(k.keys), (e: unknown) => setError(message(e))); }, [version]);
  // a new key shows after its event is applied: read again a moment later
  const reread = () => { setVersion((v) => v + 1); setTimeout(() => setVersion((v) => v + 1), 1500); };
  const create = (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    api.createKey({ name: name.trim() || "key", role, ...(user.trim() ? { user: user.trim() } : {}) }).then((k) => {
      setSecret({ title: `Key “${k.name ?? name}” created`, key: k.key });
      setName("");
      reread();
    }, (err: unknown) => setError(message(err)));
  };
  const run = () => {
    if (!confirm) return;
    const { action, key } = confirm;
    setConfirm(null);
    (action === "rotate" ? api.rotateKey(key.id) : api.revokeKey(key.id)).then((done) => {
      if (action === "rotate" && "key" in done) setSecret({ title: `New secret for “${key.name}”`, key: done.key });
      reread();
    }, (err: unknown) => setError(message(err)));
  };
  return (
    <section aria-labelledby="keys-title" className="panel">
      <h2 id="keys-title">API keys</h2>
      <p className="muted">SDKs, scripts and the MLflow client authenticate with a key. {access.isAdmin ? "As an admin you see every key of the workspace." : "You see your own keys."}</p>
      {access.canWrite ? (
        <form className="inline-form" onSubmit={create} aria-label="New key">
          <label>Name <input value={name} onChange={(e) => setName(e.target.value)} maxLength={128} placeholder="ci" required /></label>
          <label>Role
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.filter((r) => access.isAdmin || r !== "admin").map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          </label>
          {access.isAdmin && <label>For user <input value={user} onChange={(e) => setUser(e.target.value)} placeholder="(yourself)" maxLength={254} /></label>}
          <button type="submit">Create key</button>
        </form>
      ) : <p className="muted">{access.readOnlyReason}</p>}
      {error && <p role="alert" className="notice">{error}</p>}
      {keys && keys.length === 0 && <p className="muted">No keys.</p>}
      {keys && keys.length > 0 && (
        <div className="table-wrap">
          <table className="plain" aria-label="API keys">
            <thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">User</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Rotated</th><th scope="col">State</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} className={k.revoked ? "revoked" : undefined}>
                  <td>{k.name}</td><td><code>{k.id}</code></td><td>{k.user ?? "—"}</td><td>{k.role}</td>
                  <td title={datetime(k.created_at)}>{ago(k.created_at)}</td>
                  <td>{k.rotated_at ? ago(k.rotated_at) : "—"}</td>
                  <td>{k.revoked ? "revoked" : "active"}</td>
                  <td className="actions">
                    {!k.revoked && (
                      <>
                        <button type="button" onClick={() => setConfirm({ action: "rotate", key: k })}>Rotate</button>
                        <button type="button" className="danger" onClick={() => setConfirm({ action: "revoke", key: k })}>Revoke</button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Dialog title={secret?.title ?? ""} open={secret !== null} onClose={() => setSecret(null)}>
        <p>Copy the secret now: it is shown this once and cannot be read again.</p>
        <p className="secret"><code data-testid="new-secret">{secret?.key}</code> <CopyButton text={secret?.key ?? ""} /></p>
        <div className="dialog-actions"><button type="button" onClick={() => setSecret(null)}>I have copied it</button></div>
      </Dialog>
      <Dialog title={confirm?.action === "revoke" ? `Revoke “${confirm.key.name}”?` : `Rotate “${confirm?.key.name ?? ""}”?`} open={confirm !== null} onClose={() => setConfirm(null)}>
        <p>{confirm?.action === "revoke"
          ? "Everything using this key stops working at once, its browser sessions end, and it cannot be brought back."
          : "The key gets a new secret; the old one stops working at once and its browser sessions end."}</p>
        <div className="dialog-actions">
          <button type="button" onClick={() => setConfirm(null)}>Cancel</button>
          <button type="button" className="danger" onClick={run}>{confirm?.action === "revoke" ? "Revoke" : "Rotate"}</button>
        </div>
      </Dialog>
    </section>
  );
}

function Members({ workspace }: { workspace: string }) {
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [user, setUser] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [version, setVersion] = useState(0);
  useEffect(() => { api.members(workspace).then((m) => setMembers(m.members), (e: unknown) => setError(message(e))); }, [workspace, version]);
  const reread = () => { setVersion((v) => v + 1); setTimeout(() => setVersion((v) => v + 1), 1500); };
  const change = (promise: Promise<unknown>) => promise.then(() => { setError(null); reread(); }, (e: unknown) => setError(message(e)));
  return (
    <section aria-labelledby="members-title" className="panel">
      <h2 id="members-title">Members</h2>
      <form className="inline-form" aria-label="Add a member" onSubmit={(e) => { e.preventDefault(); change(api.setMember(workspace, user.trim(), role)); setUser(""); }}>
        <label>User <input value={user} onChange={(e) => setUser(e.target.value)} placeholder="login or e-mail" required maxLength={254} /></label>
        <label>Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>{ROLES.map((r) => <option key={r} value={r}>{r}</option>)}</select>
        </label>
        <button type="submit">Add member</button>
      </form>
      {error && <p role="alert" className="notice">{error}</p>}
      {members && members.length === 0 && <p className="muted">No members yet: keys made for a user make them a member, or add one here.</p>}
      {members && members.length > 0 && (
        <div className="table-wrap">
          <table className="plain" aria-label="Members">
            <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Added</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.user}>
                  <td>{m.user}</td>
                  <td>
                    <label className="visually-hidden" htmlFor={`role-${m.user}`}>Role of {m.user}</label>
                    <select id={`role-${m.user}`} value={m.role} onChange={(e) => change(api.setMember(workspace, m.user, e.target.value as Role))}>
                      {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                    </select>
                  </td>
                  <td>{ago(m.added_at)}</td>
                  <td className="actions"><button type="button" className="danger" onClick={() => change(api.removeMember(workspace, m.user))}>Remove</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function EmbedOrigins({ workspace, onSaved }: { workspace: Workspace; onSaved: (w: Workspace) => void }) {
  const [text, setText] = useState((workspace.embed_origins ?? []).join("\n"));
  const [note, setNote] = useState<string | null>(null);
  const save = (e: FormEvent) => {
    e.preventDefault();
    const origins = text.split(/\s+/).map((o) => o.trim()).filter(Boolean);
    api.editWorkspace(workspace.id, { embed_origins: origins.length ? origins : null }).then(
      (w) => { setNote("Saved."); if (w && "id" in w) onSaved(w); },
      (err: unknown) => setNote(message(err)),
    );
  };
  return (
    <section aria-labelledby="origins-title" className="panel">
      <h2 id="origins-title">Sites that may embed widgets</h2>
      <p className="muted">One origin per line (https://grafana.example.com). Empty: the gateway's default applies.</p>
      <form className="stack" onSubmit={save}>
        <label className="visually-hidden" htmlFor="origins">Origins</label>
        <textarea id="origins" rows={4} value={text} onChange={(e) => setText(e.target.value)} />
        <div><button type="submit">Save origins</button> {note && <span role="status">{note}</span>}</div>
      </form>
    </section>
  );
}
