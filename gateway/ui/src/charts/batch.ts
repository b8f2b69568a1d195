// Charts that come into view together read their series in one request: a page of charts is
// one call to the gateway and one to the metrics service (three statements), not one per chart.
import { api, type Schemas } from "../api";

type Series = Schemas["Series"];
interface Ask { metric: string; variant: string | null; weight: number; resolve: (s: Series[]) => void; reject: (e: unknown) => void }
interface Batch { experiment: string; xaxis: "iter" | "relative" | "wall"; samples: number; asks: Ask[] }

export const MAX_CHARTS = 50; // the gateway's limits of one request
export const MAX_SERIES = 500;
const pending = new Map<string, Batch>();

/** The series of one chart — a metric's variants (``variant`` null) or one metric/variant —
 * read with the other charts asked in the same moment. ``weight``: the series it holds. */
export function chartSeries(
  experiment: string, xaxis: Batch["xaxis"], samples: number, metric: string, variant: string | null, weight: number,
): Promise<Series[]> {
  const key = `${experiment}\u0000${xaxis}\u0000${samples}`;
  let batch = pending.get(key);
  if (!batch) {
    batch = { experiment, xaxis, samples, asks: [] };
    pending.set(key, batch);
    setTimeout(() => { pending.delete(key); flush(batch!); }, 0); // after every chart of this render asked
  }
  return new Promise((resolve, reject) => batch!.asks.push({ metric, variant, weight: Math.max(1, weight), resolve, reject }));
}

/** The asks in requests within the gateway's limits (charts and series per request). */
export function split<T extends { weight: number }>(asks: T[], charts = MAX_CHARTS, series = MAX_SERIES): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let weight = 0;
  for (const a of asks) {
    if (current.length && (current.length >= charts || weight + a.weight > series)) {
      out.push(current);
      current = [];
      weight = 0;
    }
    current.push(a);
    weight += a.weight;
  }
  if (current.length) out.push(current);
  return out;
}

function flush(batch: Batch): void {
  for (const asks of split(batch.asks)) {
    api.charts(batch.experiment, {
      charts: asks.map((a) => ({ metric: a.metric, variant: a.variant })),
      samples: batch.samples, xaxis: batch.xaxis, x_min: null, x_max: null,
    }).then(
      (answer) => asks.forEach((a, i) => a.resolve(answer.charts[i]?.series ?? [])),
      (error: unknown) => asks.forEach((a) => a.reject(error)),
    );
  }
}
