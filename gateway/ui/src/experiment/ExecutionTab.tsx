// The Execution tab: where the code came from and how to run it again — repository, branch,
// commit, the uncommitted diff, entry point and arguments, packages, environment, runtime.
import { useEffect, useState } from "react";
import { ApiError, api, type Execution } from "../api";
import { CopyButton } from "../ui/Dialog";

/** The shell commands that reproduce a run from what it reported. */
export function reproduce(x: Execution): string {
  const lines: string[] = [];
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  if (x.repository) {
    const folder = x.repository.replace(/\.git$/, "").split(/[/:]/).pop() || "repo";
    lines.push(`git clone ${quote(x.repository)} ${quote(folder)}`, `cd ${quote(folder)}`);
    if (x.commit) lines.push(`git checkout ${quote(x.commit)}`);
    else if (x.branch) lines.push(`git checkout ${quote(x.branch)}`);
    if (x.diff) lines.push("git apply uncommitted.diff   # the diff below, saved to a file");
  }
  if (x.packages.length) lines.push(`pip install ${x.packages.map(quote).join(" ")}`);
  if (x.working_dir && x.working_dir !== ".") lines.push(`cd ${quote(x.working_dir)}`);
  if (x.entry_point) {
    // argv is the whole command line the SDK saw: the script itself first, then its arguments
    const [first = "", ...rest] = x.argv.trim().split(/\s+/);
    const script = x.entry_point.split("/").pop() ?? x.entry_point;
    const args = first && (first === x.entry_point || first.endsWith(`/${x.entry_point}`) || first.endsWith(`/${script}`) || first === script)
      ? rest.join(" ") : x.argv.trim();
    lines.push(`python ${quote(x.entry_point)}${args ? ` ${args}` : ""}`);
  }
  return lines.join("\n");
}

export function ExecutionTab({ id }: { id: string }) {
  const [x, setX] = useState<Execution | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [packages, setPackages] = useState("");
  useEffect(() => {
    api.execution(id).then(setX, (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e)));
  }, [id]);
  if (problem) return <p role="alert" className="notice">{problem}</p>;
  if (!x) return <p className="muted" aria-busy="true">Loading…</p>;
  const empty = !x.repository && !x.entry_point && !x.packages.length && !Object.keys(x.runtime).length;
  if (empty) return <p className="muted">This run reported no execution details. The SDK records them when a run starts, unless it was started with capture_execution=False.</p>;
  const shown = x.packages.filter((p) => p.toLowerCase().includes(packages.toLowerCase()));
  const commands = reproduce(x);
  return (
    <div className="stack">
      <dl className="facts">
        <dt>Repository</dt><dd>{x.repository || "—"}</dd>
        <dt>Branch</dt><dd>{x.branch || "—"}</dd>
        <dt>Commit</dt><dd>{x.commit ? <><code>{x.commit}</code> <CopyButton text={x.commit} label="Copy commit" /></> : "—"}</dd>
        <dt>Entry point</dt><dd><code>{x.entry_point || "—"}</code></dd>
        <dt>Working directory</dt><dd><code>{x.working_dir || "—"}</code></dd>
        <dt>Arguments</dt><dd><code>{x.argv || "—"}</code></dd>
        <dt>Python</dt><dd>{x.python || "—"}</dd>
      </dl>
      {commands && (
        <section aria-labelledby="reproduce-title">
          <div className="title-row"><h3 id="reproduce-title">Reproduce</h3><CopyButton text={commands} label="Copy commands" /></div>
          <pre tabIndex={0} className="code">{commands}</pre>
        </section>
      )}
      <section aria-labelledby="diff-title">
        <div className="title-row">
          <h3 id="diff-title">Uncommitted changes</h3>
          {x.diff && <CopyButton text={x.diff} label="Copy diff" />}
        </div>
        {x.diff ? <Diff text={x.diff} /> : <p className="muted">None: the working tree was clean.</p>}
      </section>
      <section aria-labelledby="packages-title">
        <div className="title-row">
          <h3 id="packages-title">Installed packages</h3>
          <span className="muted">{x.packages.length}</span>
          <label className="visually-hidden" htmlFor="package-filter">Filter packages</label>
          <input id="package-filter" type="search" placeholder="Filter packages" value={packages} onChange={(e) => setPackages(e.target.value)} />
        </div>
        {x.packages.length ? <pre tabIndex={0} className="code short">{shown.join("\n") || "No package matches."}</pre> : <p className="muted">None reported.</p>}
      </section>
      <KeyValues title="Environment" values={x.environment} empty="No environment variables reported (the SDK records only those it is told to)." />
      <KeyValues title="Runtime" values={x.runtime} empty="No runtime details reported." />
    </div>
  );
}

function Diff({ text }: { text: string }) {
  const lines = text.split("\n").slice(0, 5000);
  return (
    <pre tabIndex={0} className="code diff" aria-label="Diff">
      {lines.map((line, i) => {
        const kind = line.startsWith("+++") || line.startsWith("---") ? "file"
          : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "";
        return <span key={i} className={kind ? `diff-${kind}` : undefined}>{line}{"\n"}</span>;
      })}
    </pre>
  );
}

export function KeyValues({ title, values, empty }: { title: string; values: Record<string, string>; empty: string }) {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  const id = `${title.toLowerCase().replace(/\W+/g, "-")}-title`;
  return (
    <section aria-labelledby={id}>
      <h3 id={id}>{title}</h3>
      {entries.length === 0 ? <p className="muted">{empty}</p> : (
        <div className="table-wrap">
          <table className="plain">
            <tbody>{entries.map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td className="prewrap">{v}</td></tr>)}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}
