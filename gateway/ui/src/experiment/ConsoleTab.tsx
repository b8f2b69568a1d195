// The Console tab: the run's output, virtualised (a million lines scroll like ten), stderr
// marked, the live tail followed while the view is at the bottom, a search with next/previous
// over every matching line (the server finds them), and the whole log as a download.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef, useState } from "react";
import { api, type ConsoleLine, type Experiment } from "../api";
import { count, datetime, plural } from "../format";
import { useTick } from "../live";

const LINE_HEIGHT = 20;
const PAGE = 5000;
const KEEP = 200_000; // lines held in the page at most; older ones are dropped from the top

export function ConsoleTab({ experiment: e }: { experiment: Experiment }) {
  const tick = useTick();
  const [lines, setLines] = useState<ConsoleLine[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [fromStart, setFromStart] = useState(false); // false: the window starts at the last lines
  const [more, setMore] = useState(false); // lines after the window not read yet
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState("");
  const [applied, setApplied] = useState("");
  const [hit, setHit] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const busy = useRef(false);
  const scroller = useRef<HTMLDivElement>(null);
  const last = lines[lines.length - 1]?.cursor ?? 0;

  // (re)start: the last 1,000 lines, from the start, or the matches of a search
  useEffect(() => {
    let current = true;
    setLines([]);
    setHit(0);
    const first = applied ? api.console(e.id, { search: applied, limit: PAGE })
      : fromStart ? api.console(e.id, { limit: PAGE }) : api.console(e.id, { tail: 1000 });
    first.then((page) => {
      if (!current) return;
      setLines(page.lines);
      setTotal(page.total);
      setMore(page.more);
      setError(null);
    }, (err: unknown) => current && setError(err instanceof Error ? err.message : String(err)));
    return () => { current = false; };
  }, [e.id, fromStart, applied]);

  // the live tail, and the next page when the window has more after it
  const readOn = () => {
    if (busy.current || (!more && !follow && !applied)) return;
    busy.current = true;
    api.console(e.id, { after: last, limit: PAGE, search: applied || undefined }).then((page) => {
      busy.current = false;
      setMore(page.more);
      if (!applied) setTotal(page.total);
      if (page.lines.length) setLines((now) => {
        const joined = now.concat(page.lines.filter((l) => l.cursor > (now[now.length - 1]?.cursor ?? 0)));
        return joined.length > KEEP ? joined.slice(joined.length - KEEP) : joined;
      });
    }, () => { busy.current = false; });
  };
  useEffect(() => { if (e.status === "running" || more) readOn(); }, [tick]); // eslint-disable-line react-hooks/exhaustive-deps

  const virtual = useVirtualizer({
    count: lines.length, getScrollElement: () => scroller.current, estimateSize: () => LINE_HEIGHT, overscan: 30,
  });
  useEffect(() => {
    if (follow && !applied && lines.length) virtual.scrollToIndex(lines.length - 1, { align: "end" });
  }, [lines.length, follow]); // eslint-disable-line react-hooks/exhaustive-deps
  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < LINE_HEIGHT * 2;
    if (atEnd !== follow) setFollow(atEnd);
    if (atEnd && more) readOn();
  };
  const go = (to: number) => {
    if (!lines.length) return;
    const next = (to + lines.length) % lines.length;
    setHit(next);
    virtual.scrollToIndex(next, { align: "center" });
  };
  const mark = (text: string) => {
    if (!applied) return text;
    const at = text.toLowerCase().indexOf(applied.toLowerCase());
    if (at < 0) return text;
    return <>{text.slice(0, at)}<mark>{text.slice(at, at + applied.length)}</mark>{text.slice(at + applied.length)}</>;
  };
  const shownFirst = lines.length && total !== null && !fromStart && !applied && total > lines.length;
  return (
    <div className="console-tab">
      <div className="toolbar">
        <form role="search" className="inline" onSubmit={(ev) => { ev.preventDefault(); setApplied(search.trim()); }}>
          <label htmlFor="console-search">Search</label>
          <input id="console-search" type="search" value={search} maxLength={1000} onChange={(ev) => { setSearch(ev.target.value); if (!ev.target.value) setApplied(""); }} placeholder="text in a line" />
          <button type="submit">Find</button>
        </form>
        {applied && (
          <>
            <span aria-live="polite">{lines.length ? `${count(hit + 1)} of ${count(lines.length)}${more ? "+" : ""} matching lines` : "No line matches"}</span>
            <button type="button" onClick={() => go(hit - 1)} disabled={!lines.length}>Previous</button>
            <button type="button" onClick={() => go(hit + 1)} disabled={!lines.length}>Next</button>
            <button type="button" onClick={() => { setSearch(""); setApplied(""); }}>Clear</button>
          </>
        )}
        {!applied && (
          <button type="button" onClick={() => { if (fromStart) setFromStart(false); setFollow(true); virtual.scrollToIndex(lines.length - 1, { align: "end" }); }}>Jump to end</button>
        )}
        <a className="button" href={api.consoleFileUrl(e.id)} download>Download</a>
        <span className="muted">{total === null ? "" : plural(total, "line")}{e.status === "running" && !applied ? (follow ? " · following live" : " · paused while you read") : ""}</span>
      </div>
      {error && <p role="alert" className="notice">{error}</p>}
      {shownFirst ? (
        <p className="muted small">Showing the last {count(lines.length)} lines. <button type="button" className="link" onClick={() => setFromStart(true)}>Read from the start</button></p>
      ) : null}
      {total === 0 && !applied ? <p className="muted">No console output yet. The SDK captures stdout and stderr unless the run was started with capture_console=False.</p> : (
        <div ref={scroller} className="console" onScroll={onScroll} role="log" aria-label="Console output" tabIndex={0}>
          <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
            {virtual.getVirtualItems().map((item) => {
              const line = lines[item.index];
              if (!line) return null;
              const stderr = line.source === "stderr" || line.level === "error";
              return (
                <div key={item.key} className={`console-line${stderr ? " stderr" : ""}${applied && item.index === hit ? " hit" : ""}`}
                  style={{ transform: `translateY(${item.start}px)`, height: LINE_HEIGHT }} title={datetime(line.ts)}>
                  {stderr && <span className="visually-hidden">stderr: </span>}{mark(line.text)}
                </div>
              );
            })}
          </div>
        </div>
      )}
    </div>
  );
}
