// "Embed": asks the gateway for a chart's /widget/ iframe code and shows it with a copy button.
import { useState } from "react";
import { api } from "../api";
import { CopyButton } from "../ui/Dialog";

/** The Embed button and, once asked, the code below the chart's actions. */
export function useEmbed(params: () => Record<string, string>): { button: JSX.Element; box: JSX.Element | null } {
  const [code, setCode] = useState<string | null>(null);
  const ask = () => api.embedCode(params()).then(
    (answer) => setCode(answer.code), (e: unknown) => setCode(`Could not make the embed code: ${e instanceof Error ? e.message : String(e)}`),
  );
  return {
    button: <button type="button" onClick={() => void ask()}>Embed</button>,
    box: code === null ? null : (
      <div className="embed-code">
        <code>{code}</code> <CopyButton text={code} label="Copy embed code" />
        <button type="button" onClick={() => setCode(null)}>Close</button>
      </div>
    ),
  };
}
