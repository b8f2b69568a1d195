// "Embed": asks the gateway for a chart's /widget/ iframe code (with a token when the data is
// private) and shows it with a copy button. "Embed in report": the same iframe without a token,
// copied at once: in a report, the reader's session (or the report's share link) reads it.
import { useState } from "react";
import { api } from "../api";
import { CopyButton } from "../ui/Dialog";

/** The iframe a report shows for the widget of ``params`` (this gateway's /widget/, no token). */
export function reportEmbed(params: Record<string, string>): string {
  const query = new URLSearchParams(Object.entries(params).filter(([name]) => name !== "token")).toString();
  const src = `${window.location.origin}/widget/?${query}`.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  return `<iframe src="${src}" width="100%" height="400"></iframe>`;
}

/** The Embed and Embed in report buttons and, once asked, the code below the chart's actions. */
export function useEmbed(params: () => Record<string, string>): { button: JSX.Element; box: JSX.Element | null } {
  const [code, setCode] = useState<{ text: string; forReport: boolean } | null>(null);
  const ask = () => api.embedCode(params()).then(
    (answer) => setCode({ text: answer.code, forReport: false }),
    (e: unknown) => setCode({ text: `Could not make the embed code: ${e instanceof Error ? e.message : String(e)}`, forReport: false }),
  );
  const forReport = () => {
    const text = reportEmbed(params());
    setCode({ text, forReport: true });
    void navigator.clipboard?.writeText(text).catch(() => undefined);
  };
  return {
    button: (
      <>
        <button type="button" onClick={() => void ask()}>Embed</button>
        <button type="button" onClick={forReport} title="Copy the code to paste into a report: the chart stays live there">Embed in report</button>
      </>
    ),
    box: code === null ? null : (
      <div className="embed-code">
        {code.forReport && <span className="muted">Paste this into a report (copied): </span>}
        <code>{code.text}</code> <CopyButton text={code.text} label={code.forReport ? "Copy again" : "Copy embed code"} />
        <button type="button" onClick={() => setCode(null)}>Close</button>
      </div>
    ),
  };
}
