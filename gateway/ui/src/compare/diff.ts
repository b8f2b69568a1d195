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
