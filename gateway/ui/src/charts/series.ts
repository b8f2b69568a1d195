// The arithmetic behind the scalar charts, kept apart from drawing so it is unit-tested:
// series from the API's buckets joined on one x grid, and the smoothers.

export type Num = number | null;

/** One series as the API sends it (buckets, or raw points where few): per x the line's value
 * (the bucket's mean), and the band (the bucket's min and max). */
export interface Points {
  x: number[];
  line: Num[];
  min: Num[];
  max: Num[];
}

/** Several series joined on the union of their x values; a series lacks a value (null) where
 * it has no point. */
export function join(all: Points[]): { x: number[]; line: Num[][]; min: Num[][]; max: Num[][] } {
  const xs = [...new Set(all.flatMap((s) => s.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const empty = () => new Array<Num>(xs.length).fill(null);
  const line = all.map(empty);
  const min = all.map(empty);
  const max = all.map(empty);
  all.forEach((s, k) => {
    s.x.forEach((x, i) => {
      const j = at.get(x) ?? 0;
      line[k]![j] = s.line[i] ?? null;
      min[k]![j] = s.min[i] ?? null;
      max[k]![j] = s.max[i] ?? null;
    });
  });
  return { x: xs, line, min, max };
}

export type Smoother = "ema" | "average" | "gaussian";

const finite = (v: Num): v is number => v !== null && Number.isFinite(v);

/** ``values`` smoothed by ``weight`` (0: unchanged … 0.999: very smooth), nulls and non-finite
 * values kept in place and skipped.
 * - ema: the exponential moving average, debiased at the start (as TensorBoard does);
 * - average: the running mean over a window of 1 + weight × 100 points, centred;
 * - gaussian: a gaussian kernel of σ = weight × 50 points, centred. */
export function smooth(values: Num[], weight: number, kind: Smoother = "ema"): Num[] {
  if (weight <= 0) return values;
  const w = Math.min(weight, 0.999);
  if (kind === "ema") {
    let last = 0;
    let n = 0;
    return values.map((v) => {
      if (!finite(v)) return v;
      last = last * w + (1 - w) * v;
      n += 1;
      return last / (1 - w ** n);
    });
  }
  const idx = values.map((v, i) => (finite(v) ? i : -1)).filter((i) => i >= 0);
  const ys = idx.map((i) => values[i] as number);
  const out: Num[] = [...values];
  if (kind === "average") {
    const half = Math.floor((1 + Math.round(w * 100)) / 2);
    const prefix = [0];
    for (const y of ys) prefix.push(prefix[prefix.length - 1]! + y);
    idx.forEach((i, k) => {
      const lo = Math.max(0, k - half);
      const hi = Math.min(ys.length - 1, k + half);
      out[i] = (prefix[hi + 1]! - prefix[lo]!) / (hi - lo + 1);
    });
    return out;
  }
  const sigma = Math.max(w * 50, 0.5);
  const reach = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * reach + 1 }, (_, j) => Math.exp(-((j - reach) ** 2) / (2 * sigma * sigma)));
  idx.forEach((i, k) => {
    let sum = 0;
    let total = 0;
    for (let j = Math.max(0, k - reach); j <= Math.min(ys.length - 1, k + reach); j += 1) {
      const weightJ = kernel[j - k + reach]!;
      sum += weightJ * ys[j]!;
      total += weightJ;
    }
    out[i] = sum / total;
  });
  return out;
}

/** The extreme of some arrays, ignoring nulls; null when there is none. */
export function extreme(arrays: Num[][], pick: "min" | "max"): number | null {
  let best: number | null = null;
  for (const a of arrays) {
    for (const v of a) {
      if (finite(v) && (best === null || (pick === "max" ? v > best : v < best))) best = v;
    }
  }
  return best;
}

/** CSV of the joined series: x, then for each series its line, min and max. */
export function toCsv(x: number[], names: string[], line: Num[][], min: Num[][], max: Num[][]): string {
  const head = ["x", ...names.flatMap((n) => [n, `${n} min`, `${n} max`])].map(csvCell).join(",");
  const rows = x.map((xv, i) => [xv, ...names.flatMap((_, k) => [line[k]![i], min[k]![i], max[k]![i]])]
    .map((v) => (v === null || v === undefined ? "" : String(v))).join(","));
  return [head, ...rows].join("\n") + "\n";
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A y range that leaves out the outliers: the 2nd to 98th percentile of every drawn value,
 * padded by 5%; null when there is nothing to span. */
export function robustRange(lines: Num[][]): [number, number] | null {
  const values = lines.flat().filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (!values.length) return null;
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.round(q * (values.length - 1))))]!;
  const lo = at(0.02);
  const hi = at(0.98);
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

/** The API's values as the charts take them: numbers; NaN and ±∞ (sent as strings) and missing
 * values as gaps. */
export function drawable(values: readonly unknown[]): Num[] {
  return values.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : null));
}

/** A "#rrggbb" colour with ``alpha`` opacity (other colours as they are). */
export function fade(colour: string, alpha: number): string {
  const hex = colour.replace("#", "");
  if (hex.length !== 6) return colour;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
