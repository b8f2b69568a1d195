// Formatting shared by every page: relative times and counts.

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

/** "5 minutes ago", "yesterday", "just now": a time (seconds since the epoch) beside now. */
export function ago(seconds: number, now: number = Date.now() / 1000): string {
  if (!seconds) return "never";
  const delta = seconds - now;
  const format = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(delta) >= size) return format.format(Math.round(delta / size), unit);
  }
  return "just now";
}

/** 1234567 -> "1,234,567". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** "1 experiment", "3 experiments". */
export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? "" : "s"}`;
}

/** 75 -> "1m 15s", 7384 -> "2h 3m", 200000 -> "2d 7h". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** A time (seconds since the epoch) as "2026-12-01 11:39:50" in the browser's zone. */
export function datetime(seconds: number | null | undefined): string {
  if (!seconds) return "—";
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 1536 -> "1.5 KB". */
export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A metric value: 4 significant digits, exponents for the very small and large; NaN and
 * infinities as the API sends them (strings). */
export function number(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value !== "number") return value === null || value === undefined ? "—" : String(value);
  if (value === 0 || Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  return abs < 1e-3 || abs >= 1e6 ? value.toExponential(3) : String(Number(value.toPrecision(4)));
}

/** A stable colour per experiment (its id's hash as a hue), readable on both themes. */
export function colourOf(id: string): string {
  let hash = 0;
  for (const ch of id) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return `hsl(${Math.abs(hash) % 360} 70% 55%)`;
}
