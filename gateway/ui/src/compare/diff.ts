// The logic of Compare, unit-tested: rows of values per experiment with differences found, the
// best value of a metric row, and packages split into name and version.

export interface Row {
  key: string;
  values: (string | null)[]; // one per experiment; null where it lacks the key
  differs: boolean;
}

/** One row per key any experiment has, in key order; ``differs`` when the values are not all
 * the same (a missing value counts as different). */
export function rows(perExperiment: Record<string, string>[]): Row[] {
  const keys = [...new Set(perExperiment.flatMap((m) => Object.keys(m)))].sort((a, b) => a.localeCompare(b));
  return keys.map((key) => {
    const values = perExperiment.map((m) => (key in m ? m[key]! : null));
    return { key, values, differs: new Set(values).size > 1 };
  });
}

/** Lower is better for losses and errors, higher for the rest. */
export function lowerIsBetter(metric: string): boolean {
  return /loss|err|mse|mae|rmse|perplexity|ppl|wer|cer|distance|latency|time/i.test(metric);
}

/** The indices holding the best value (all of them on a tie); none when fewer than two values
 * are numbers or all of them are equal (nothing stands out). */
export function best(values: (number | string | null | undefined)[], lower: boolean): number[] {
  const numbers = values.map((v, i) => [v, i] as const).filter((p): p is readonly [number, number] => typeof p[0] === "number" && Number.isFinite(p[0]));
  if (numbers.length < 2) return [];
  const target = lower ? Math.min(...numbers.map(([v]) => v)) : Math.max(...numbers.map(([v]) => v));
  const winners = numbers.filter(([v]) => v === target).map(([, i]) => i);
  return winners.length === numbers.length ? [] : winners;
}

/** "numpy==2.1.0" -> ["numpy", "2.1.0"]; a line without a version keeps it whole. */
export function splitPackage(line: string): [string, string] {
  const m = /^\s*([A-Za-z0-9_.\-[\]]+)\s*(?:==|@|>=|<=|~=|===)\s*(.+?)\s*$/.exec(line);
  return m ? [m[1]!.toLowerCase(), m[2]!] : [line.trim().toLowerCase(), ""];
}

export interface DiffLine {
  op: " " | "-" | "+";
  text: string;
}

const MAX_DIFF_CELLS = 4_000_000; // an LCS table this big at most (2,000 × 2,000 lines)

/** A line diff of ``a`` into ``b`` (longest common subsequence): unchanged lines " ", lines only
 * in a "-", only in b "+". Past MAX_DIFF_CELLS the common head and tail are kept and the middle
 * shown as removed then added. */
export function lineDiff(a: string[], b: string[]): DiffLine[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail += 1;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const middle: DiffLine[] = [];
  if ((x.length + 1) * (y.length + 1) > MAX_DIFF_CELLS) {
    middle.push(...x.map((text) => ({ op: "-" as const, text })), ...y.map((text) => ({ op: "+" as const, text })));
  } else {
    const w = y.length + 1;
    const lcs = new Uint32Array((x.length + 1) * w);
    for (let i = x.length - 1; i >= 0; i -= 1) {
      for (let j = y.length - 1; j >= 0; j -= 1) {
        lcs[i * w + j] = x[i] === y[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) { middle.push({ op: " ", text: x[i]! }); i += 1; j += 1; }
      else if (i < x.length && (j === y.length || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) { middle.push({ op: "-", text: x[i]! }); i += 1; }
      else { middle.push({ op: "+", text: y[j]! }); j += 1; } // what was removed shows before what replaced it
    }
  }
  return [
    ...a.slice(0, head).map((text) => ({ op: " " as const, text })),
    ...middle,
    ...a.slice(a.length - tail).map((text) => ({ op: " " as const, text })),
  ];
}

/** Keyed values as the lines of a diff: "key = value", in key order. */
export function keyedLines(values: Record<string, string>): string[] {
  return Object.keys(values).sort((p, q) => p.localeCompare(q)).map((k) => `${k} = ${values[k]}`);
}
