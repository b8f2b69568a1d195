// The rows of a table request, read from the server a page at a time as they come into view,
// and re-read (visible pages only) on every live tick.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api, isConnectionProblem, type Experiment, type ExperimentPage } from "../api";

export const PAGE_SIZE = 100;

export interface Rows {
  total: number | null; // null until the first page answers
  row: (index: number) => Experiment | undefined;
  need: (first: number, last: number) => void; // the rows in view
  error: ApiError | null;
  version: number; // changes whenever a page arrives
}

export function useRows(params: Record<string, string | boolean>, tick: number): Rows {
  const key = JSON.stringify(params);
  const pages = useRef(new Map<number, Experiment[]>());
  const asked = useRef(new Set<number>());
  const inView = useRef<[number, number]>([0, 0]);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [version, setVersion] = useState(0);
  const current = useRef(key);

  const load = useCallback((page: number) => {
    const forKey = current.current;
    asked.current.add(page);
    api.experiments({ ...JSON.parse(forKey), page, page_size: PAGE_SIZE }).then(
      (answer: ExperimentPage) => {
        if (current.current !== forKey) return;
        if (pages.current.get(page) !== answer.experiments) {
          pages.current.set(page, answer.experiments);
          setVersion((v) => v + 1);
        }
        setTotal(answer.total);
        setError(null);
      },
      (e: unknown) => {
        if (current.current !== forKey) return;
        asked.current.delete(page); // asked again on the next tick
        if (!isConnectionProblem(e)) setError(e instanceof ApiError ? e : new ApiError(0, String(e), null));
      },
    );
  }, []);

  useEffect(() => { // a new request: start over
    current.current = key;
    pages.current = new Map();
    asked.current = new Set();
    setTotal(null);
    setError(null);
    load(0);
  }, [key, load]);

  useEffect(() => { // live: re-read the pages in view
    if (tick === 0) return;
    const [first, last] = inView.current;
    for (let p = Math.floor(first / PAGE_SIZE); p <= Math.floor(last / PAGE_SIZE); p += 1) load(p);
  }, [tick, load]);

  const need = useCallback((first: number, last: number) => {
    inView.current = [first, last];
    for (let p = Math.floor(first / PAGE_SIZE); p <= Math.floor(last / PAGE_SIZE); p += 1) {
      if (!asked.current.has(p)) load(p);
    }
  }, [load]);
  const row = useCallback((index: number) => pages.current.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE], []);
  return { total, row, need, error, version };
}

/** Every id a request matches, 500 at a time (for "select all matching"), with progress. */
export async function allIds(
  params: Record<string, string | boolean>, progress: (done: number, total: number) => void,
): Promise<string[]> {
  const ids: string[] = [];
  for (let page = 0; ; page += 1) {
    const answer = await api.experiments({ ...params, columns: "", page, page_size: 500 });
    ids.push(...answer.experiments.map((e) => e.id));
    progress(ids.length, answer.total);
    if (answer.experiments.length < 500 || ids.length >= answer.total) return ids;
  }
}
