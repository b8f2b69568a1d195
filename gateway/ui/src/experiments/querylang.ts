// The experiment table's query language on the client side: completing identifiers as they are
// typed, quoting values, splitting identifier lists, placing the server's error, and the labels
// of columns. The language itself is the server's (services/metadata/query.py).

export const KEYWORDS = ["AND", "OR", "NOT IN", "IN", "LIKE", "ILIKE"];
const AGGREGATES = ["last", "min", "max"];

/** Where the word being typed at ``cursor`` starts, and the word: an identifier (``kind.name``,
 * with a backtick-quoted name that may hold spaces) or a keyword. */
export function wordAt(text: string, cursor: number): { start: number; word: string } {
  const before = text.slice(0, cursor);
  const quoted = /[A-Za-z_]+\.`[^`]*$/.exec(before);
  if (quoted) return { start: quoted.index, word: quoted[0] };
  const plain = /[A-Za-z_][A-Za-z0-9_.\-/:`]*$/.exec(before);
  if (!plain) return { start: cursor, word: "" };
  // inside a string value ('…') nothing is completed
  const quotes = (before.slice(0, plain.index).match(/'/g) ?? []).length;
  if (quotes % 2 === 1) return { start: cursor, word: "" };
  return { start: plain.index, word: plain[0] };
}

/** Identifiers (and keywords) that complete ``word``: those starting with it first, then those
 * containing it, case-insensitively; a metric also offers its .min and .max. */
export function suggest(word: string, identifiers: readonly string[], limit = 12): string[] {
  if (!word) return [];
  const needle = word.toLowerCase().replace(/`/g, "");
  const pool = [
    ...identifiers.flatMap((i) => (i.startsWith("metrics.") ? [i, `${i}.min`, `${i}.max`] : [i])),
    ...KEYWORDS,
  ];
  const starts: string[] = [];
  const contains: string[] = [];
  for (const candidate of pool) {
    const plain = candidate.toLowerCase().replace(/`/g, "");
    if (plain === needle) continue;
    if (plain.startsWith(needle)) starts.push(candidate);
    else if (needle.length > 1 && plain.includes(needle)) contains.push(candidate);
  }
  return [...starts, ...contains].slice(0, limit);
}

/** ``text`` with the word at ``cursor`` replaced by ``choice`` (and a space after it). */
export function complete(text: string, cursor: number, choice: string): { text: string; cursor: number } {
  const { start } = wordAt(text, cursor);
  const rest = text.slice(cursor).replace(/^[A-Za-z0-9_.\-/:`]*/, "");
  const inserted = `${choice} `;
  return { text: text.slice(0, start) + inserted + rest.replace(/^ /, ""), cursor: start + inserted.length };
}

/** A value as the language writes it: a number as is, text in single quotes. */
export function literal(value: unknown): string {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** The position the server names in "at position N: …", if any. */
export function errorPosition(message: string): number | null {
  const m = /at position (\d+)/.exec(message);
  return m ? Number(m[1]) : null;
}

/** Splits "a.b, metrics.`x, y`.max" at the commas outside quotes. */
export function splitIdentifiers(text: string): string[] {
  const out: string[] = [];
  let current = "";
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "`" || ch === '"') {
      quote = ch;
    } else if (ch === ",") {
      if (current.trim()) out.push(current.trim());
      current = "";
      continue;
    }
    current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** A column header: "loss/train (max)", "lr (Args)", "team", "started". */
export function label(identifier: string): string {
  const dot = identifier.indexOf(".");
  const kind = identifier.slice(0, dot);
  let name = identifier.slice(dot + 1);
  let aggregate = "";
  const tail = /^(.*?)\.(last|min|max)$/.exec(name);
  if (kind === "metrics" && tail && (tail[1]!.endsWith("`") || !tail[1]!.includes("`"))) {
    name = tail[1]!;
    aggregate = tail[2]!;
  }
  name = name.replace(/^[`"]|[`"]$/g, "");
  if (kind === "metrics") return aggregate && aggregate !== "last" ? `${name} (${aggregate})` : name;
  if (kind === "params") {
    const [section, ...rest] = name.split("/");
    return rest.length ? `${rest.join("/")} (${section})` : name;
  }
  return name;
}

/** The kind of an identifier, for the column chooser's groups. */
export function kindOf(identifier: string): "attributes" | "metrics" | "params" | "tags" {
  const kind = identifier.slice(0, identifier.indexOf("."));
  return kind === "metrics" || kind === "params" || kind === "tags" ? kind : "attributes";
}

export { AGGREGATES };
