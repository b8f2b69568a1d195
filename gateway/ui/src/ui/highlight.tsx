// Light syntax highlighting for configuration text (JSON, YAML, INI/TOML, Python-ish dicts):
// comments, keys, strings, numbers and literals. Tokens, not a parser: it never fails, and text
// past HIGHLIGHT_LIMIT is shown plain.
import type { ReactNode } from "react";

export const HIGHLIGHT_LIMIT = 200_000;
export type Kind = "comment" | "key" | "string" | "number" | "literal" | "plain";

const TOKEN = new RegExp(
  [
    String.raw`(?<comment>(?:^|(?<=\s))(?:#|//|;).*$)`,
    String.raw`(?<key>"(?:[^"\\\n]|\\.)*"(?=\s*:)|^[ \t-]*[A-Za-z_][\w.\- ]*?(?=\s*[:=](?:\s|$)))`,
    String.raw`(?<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')`,
    String.raw`(?<number>(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))`,
    String.raw`(?<literal>\b(?:true|false|null|True|False|None|yes|no|~)\b)`,
  ].join("|"),
  "gm",
);

/** The text cut into (kind, text) pieces that join back into it. */
export function tokens(text: string): [Kind, string][] {
  const out: [Kind, string][] = [];
  let at = 0;
  for (const m of text.matchAll(TOKEN)) {
    const start = m.index ?? 0;
    if (start > at) out.push(["plain", text.slice(at, start)]);
    const groups = m.groups ?? {};
    const kind = (Object.keys(groups).find((k) => groups[k] !== undefined) ?? "plain") as Kind;
    out.push([kind, m[0]]);
    at = start + m[0].length;
  }
  if (at < text.length) out.push(["plain", text.slice(at)]);
  return out;
}

export function Highlighted({ text, label }: { text: string; label?: string }) {
  const head = text.slice(0, HIGHLIGHT_LIMIT);
  const parts: ReactNode[] = tokens(head).map(([kind, part], i) =>
    kind === "plain" ? part : <span key={i} className={`hl-${kind}`}>{part}</span>);
  return <pre tabIndex={0} className="code short" aria-label={label}>{parts}{text.slice(HIGHLIGHT_LIMIT)}</pre>;
}
