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
