// The experiments table: virtualised rows (TanStack Virtual) read page by page from the server,
// columns (TanStack Table) that resize and reorder, sorting by a header, row selection with
// checkboxes and shift-click, and the keyboard: arrows move, Enter opens, Space selects.
import { getCoreRowModel, useReactTable, type ColumnDef, type ColumnSizingState } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent } from "react";
import type { Experiment } from "../api";
import { ago, colourOf, datetime, duration, number } from "../format";
import { useTick } from "../live";
import { label } from "./querylang";
import { useRows } from "./rows";

const ROW_HEIGHT = 38;
const SIZES: Record<string, number> = {
  "attributes.status": 118, "attributes.name": 260, "attributes.tags": 180, "attributes.user": 120,
  "attributes.started": 130, "attributes.duration": 100, "attributes.updated": 130,
};

export interface Selection {
  ids: Set<string>;
  all: boolean; // every experiment the request matches
}

function loadSizes(): ColumnSizingState {
  try {
    return JSON.parse(localStorage.getItem("tracklane.columnSizes") ?? "{}") as ColumnSizingState;
  } catch {
    return {};
  }
}

export function ExperimentTable({ params, columns, order, selected, selection, onSort, onReorder, onSelect, onOpen, height, hidden = [], onHide, widths, onWidths }: {
  params: Record<string, string | boolean>;
  columns: string[];
  order: string;
  selected: string;
  selection: Selection;
  onSort: (identifier: string) => void;
  onReorder: (columns: string[]) => void;
  onSelect: (ids: string[], on: boolean, total: number | null) => void;
  onOpen: (experiment: Experiment) => void;
  height: string;
  hidden?: string[]; // left out of the project panels
  onHide?: (id: string) => void;
  widths?: Record<string, number>; // the view's column widths (a saved view keeps them)
  onWidths?: (widths: Record<string, number>) => void; // after a resize has settled
}) {
  const tick = useTick();
  const rows = useRows(params, tick);
  const scroller = useRef<HTMLDivElement>(null);
  const [sizing, setSizing] = useState<ColumnSizingState>(() => ({ ...loadSizes(), ...widths }));
  const viewWidths = JSON.stringify(widths ?? {});
  useEffect(() => { if (widths && Object.keys(widths).length) setSizing((s) => ({ ...s, ...widths })); }, [viewWidths]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { // a resize goes into the view once the pointer has rested
    if (!onWidths) return;
    const mine = Object.fromEntries(columns.filter((c) => sizing[c] !== undefined).map((c) => [c, Math.round(sizing[c]!)]));
    if (JSON.stringify(mine) === viewWidths || !Object.keys(mine).length) return;
    const timer = setTimeout(() => onWidths(mine), 600);
    return () => clearTimeout(timer);
  }, [sizing]); // eslint-disable-line react-hooks/exhaustive-deps
  const [focus, setFocus] = useState(0);
  const lastClicked = useRef<number | null>(null);
  const dragged = useRef<string | null>(null);
  useEffect(() => localStorage.setItem("tracklane.columnSizes", JSON.stringify(sizing)), [sizing]);

  const defs = useMemo<ColumnDef<Experiment>[]>(
    () => columns.map((id) => ({ id, header: label(id), size: SIZES[id] ?? 130, minSize: 60, maxSize: 800 })),
    [columns],
  );
  const table = useReactTable({
    data: [], columns: defs, getCoreRowModel: getCoreRowModel(), columnResizeMode: "onChange",
    state: { columnSizing: sizing }, onColumnSizingChange: setSizing,
  });
  const total = rows.total ?? 0;
  const virtual = useVirtualizer({
    count: total, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 12,
  });
  const items = virtual.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  useEffect(() => { if (total) rows.need(first, last); }, [first, last, total, rows]);

  const width = (onHide ? 68 : 44) + table.getVisibleLeafColumns().reduce((sum, c) => sum + c.getSize(), 0);
  const descending = order.startsWith("-");
  const sortedBy = order.replace(/^-/, "");

  const click = (index: number, experiment: Experiment, event: MouseEvent) => {
    if (event.shiftKey && lastClicked.current !== null) {
      const [a, b] = [Math.min(lastClicked.current, index), Math.max(lastClicked.current, index)];
      const ids: string[] = [];
      for (let i = a; i <= b; i += 1) {
        const r = rows.row(i);
        if (r) ids.push(r.id);
      }
      onSelect(ids, true, rows.total);
    } else {
      onSelect([experiment.id], !(selection.all || selection.ids.has(experiment.id)), rows.total);
    }
    lastClicked.current = index;
  };
  const keys = (event: KeyboardEvent) => {
    const move = (to: number) => {
      const next = Math.max(0, Math.min(total - 1, to));
      setFocus(next);
      virtual.scrollToIndex(next);
      requestAnimationFrame(() => scroller.current?.querySelector<HTMLElement>(`[data-index="${next}"]`)?.focus());
    };
    const current = rows.row(focus);
    if (event.key === "ArrowDown") move(focus + 1);
    else if (event.key === "ArrowUp") move(focus - 1);
    else if (event.key === "PageDown") move(focus + 15);
    else if (event.key === "PageUp") move(focus - 15);
    else if (event.key === "Home") move(0);
    else if (event.key === "End") move(total - 1);
    else if (event.key === "Enter" && current) onOpen(current);
    else if (event.key === " " && current) onSelect([current.id], !selection.ids.has(current.id), rows.total);
    else return;
    event.preventDefault();
  };

  return (
    <div className="table-wrap">
      {rows.error && <p role="alert" className="error">{rows.error.message}</p>}
      <div
        ref={scroller} className="grid-scroll" style={{ height }} role="grid" aria-rowcount={total + 1}
        aria-label="Experiments" aria-multiselectable="true" data-total={rows.total ?? ""} onKeyDown={keys}
      >
        <div role="row" className="grid-head" style={{ width }} aria-rowindex={1}>
          <div role="columnheader" className={onHide ? "cell check with-eye" : "cell check"}>
            <input
              type="checkbox" aria-label="Select all matching experiments"
              checked={selection.all} onChange={(e) => onSelect([], e.target.checked, rows.total)}
            />
          </div>
          {table.getFlatHeaders().map((header) => {
            const id = header.column.id;
            const sorted = sortedBy === id ? (descending ? "descending" : "ascending") : "none";
            return (
              <div
                key={id} role="columnheader" aria-sort={sorted} className="cell head" style={{ width: header.getSize() }}
                draggable onDragStart={() => { dragged.current = id; }} onDragOver={(e) => e.preventDefault()}
                onDrop={() => {
                  const from = dragged.current;
                  if (!from || from === id) return;
                  const next = columns.filter((c) => c !== from);
                  next.splice(next.indexOf(id), 0, from);
                  onReorder(next);
                }}
              >
                <button type="button" className="sort" title={`Sort by ${id}`} onClick={() => onSort(id)}>
                  <span className="sort-label">{String(header.column.columnDef.header)}</span>
                  <span aria-hidden="true">{sorted === "ascending" ? " ▲" : sorted === "descending" ? " ▼" : ""}</span>
                </button>
                <span
                  className="resizer" role="separator" aria-orientation="vertical" aria-label={`Resize ${id}`}
                  onMouseDown={header.getResizeHandler()} onTouchStart={header.getResizeHandler()}
                  onDoubleClick={() => header.column.resetSize()}
                />
              </div>
            );
          })}
        </div>
        {rows.total === 0 && (
          <p className="empty" role="row"><span role="gridcell">No experiments match. Clear the filter, or log a run into this project.</span></p>
        )}
        <div style={{ height: virtual.getTotalSize(), width, position: "relative" }}>
          {items.map((item) => {
            const experiment = rows.row(item.index);
            const checked = experiment ? selection.all || selection.ids.has(experiment.id) : false;
            return (
              <div
                key={item.key} role="row" data-index={item.index} aria-rowindex={item.index + 2}
                aria-selected={checked} tabIndex={item.index === focus ? 0 : -1}
                className={`grid-row${experiment && experiment.id === selected ? " current" : ""}`}
                style={{ transform: `translateY(${item.start}px)`, width, height: ROW_HEIGHT }}
                onFocus={() => setFocus(item.index)}
                onClick={(e) => {
                  if (experiment && !(e.target as HTMLElement).closest("input,button,a")) onOpen(experiment);
                }}
              >
                <div role="gridcell" className={onHide ? "cell check with-eye" : "cell check"}>
                  {experiment && (
                    <input
                      type="checkbox" checked={checked} aria-label={`Select ${experiment.name}`} tabIndex={-1}
                      onClick={(e) => click(item.index, experiment, e)} onChange={() => undefined}
                    />
                  )}
                  {experiment && onHide && (
                    <button
                      type="button" className="eye" tabIndex={-1} aria-pressed={!hidden.includes(experiment.id)}
                      aria-label={`Show ${experiment.name || experiment.id} in the panels`}
                      title={hidden.includes(experiment.id) ? "Hidden from the panels: click to show" : "In the panels: click to hide"}
                      onClick={() => onHide(experiment.id)}
                    >{hidden.includes(experiment.id) ? "◌" : "◉"}</button>
                  )}
                </div>
                {table.getVisibleLeafColumns().map((column) => (
                  <div key={column.id} role="gridcell" className="cell" style={{ width: column.getSize() }}>
                    {experiment ? <Cell id={column.id} experiment={experiment} onOpen={onOpen} /> : <span className="skeleton" />}
                  </div>
                ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

export function StatusBadge({ status, stopRequested }: { status: string; stopRequested?: boolean }) {
  return (
    <span className={`status status-${status}`}>
      {stopRequested && status === "running" ? "stopping" : status}
    </span>
  );
}

function Cell({ id, experiment: e, onOpen }: { id: string; experiment: Experiment; onOpen: (e: Experiment) => void }) {
  switch (id) {
    case "attributes.status":
      return <StatusBadge status={e.status} stopRequested={e.stop_requested} />;
    case "attributes.name":
      return (
        <span className="name-cell">
          <span className="swatch" style={{ background: colourOf(e.id) }} aria-hidden="true" />
          <a href={`/experiments/${e.id}`} onClick={(event) => { event.preventDefault(); onOpen(e); }} title={e.name}>
            {e.name || e.id}
          </a>
        </span>
      );
    case "attributes.tags":
      return <span className="tags">{e.tags.map((t) => <span key={t} className="tag">{t}</span>)}</span>;
    case "attributes.user": return <span title={e.user}>{e.user || "—"}</span>;
    case "attributes.id": return <code>{e.id}</code>;
    case "attributes.project": return <span>{e.project}</span>;
    case "attributes.description": return <span title={e.description}>{e.description}</span>;
    case "attributes.created": return <time title={datetime(e.created_at)}>{ago(e.created_at)}</time>;
    case "attributes.started": return <time title={datetime(e.started_at)}>{ago(e.started_at)}</time>;
    case "attributes.updated": return <time title={datetime(e.updated_at)}>{ago(e.updated_at)}</time>;
    case "attributes.ended": return <time title={datetime(e.ended_at)}>{e.ended_at ? ago(e.ended_at) : "—"}</time>;
    case "attributes.duration":
      return <span>{duration((e.ended_at ?? (e.status === "running" ? Date.now() / 1000 : e.updated_at)) - e.started_at)}</span>;
    default: {
      const value = (e.columns as Record<string, unknown> | undefined)?.[id];
      return <span className={typeof value === "number" ? "num" : undefined}>{number(value)}</span>;
    }
  }
}
