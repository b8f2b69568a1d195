import { describe, expect, it } from "vitest";
import { aggregate, barData, numeric, panelColumns, parallelLines, readPanels, scatterData, writePanels, type Panel, type PanelRow } from "./panels";

const rows: PanelRow[] = [
  { id: "a", name: "run a", columns: { "params.General/lr": "0.1", "metrics.loss/val.min": 0.5, "params.General/opt": "sgd" } },
  { id: "b", name: "run b", columns: { "params.General/lr": "0.01", "metrics.loss/val.min": 0.3, "params.General/opt": "adam" } },
  { id: "c", name: "run c", columns: { "params.General/lr": "0.1", "metrics.loss/val.min": 0.7, "params.General/opt": "adam" } },
  { id: "d", name: "run d", columns: { "params.General/lr": "0.001" } },
];
const byName = (r: PanelRow) => r.name;

describe("panels", () => {
  it("round-trip through the URL and drop what does not parse", () => {
    const panels: Panel[] = [{ kind: "bar", y: "metrics.loss/val.min", x: "params.General/lr", agg: "median" }];
    expect(readPanels(writePanels(panels))).toEqual(panels);
    expect(readPanels('[{"kind":"pie","y":"a","x":"b"},{"kind":"scatter","y":"a","x":"b","agg":"?"}]')).toEqual([{ kind: "scatter", y: "a", x: "b", agg: "avg" }]);
    expect(readPanels("{not json")).toEqual([]);
    expect(panelColumns({ kind: "parcoords", y: "m", x: "p1,p2", agg: "avg" })).toEqual(["p1", "p2", "m"]);
  });
  it("aggregate", () => {
    expect(aggregate([1, 2, 3, 10], "median")).toBe(2.5);
    expect(aggregate([1, 2, 3], "avg")).toBe(2);
    expect(aggregate([2, 4], "std")).toBe(1);
    expect(aggregate([], "count")).toBe(0);
    expect(aggregate([], "max")).toBeNull();
    expect(numeric("1e-3")).toBe(0.001);
    expect(numeric("adam")).toBeNull();
  });
  it("a bar per value of a hyperparameter, numeric values in order, or a bar per run", () => {
    const bars = barData(rows, { kind: "bar", y: "metrics.loss/val.min", x: "params.General/lr", agg: "avg" }, byName);
    expect(bars.x).toEqual(["0.001", "0.01", "0.1"]);
    expect(bars.y).toEqual([null, 0.3, 0.6]);
    expect(bars.runs).toEqual([1, 1, 2]);
    const counted = barData(rows, { kind: "bar", y: "metrics.loss/val.min", x: "params.General/opt", agg: "count" }, byName);
    expect(counted.x).toEqual(["adam", "sgd"]);
    expect(counted.y).toEqual([2, 1]);
    const perRun = barData(rows, { kind: "bar", y: "metrics.loss/val.min", x: "run", agg: "avg" }, byName);
    expect(perRun.x).toEqual(["run a", "run b", "run c"]);
  });
  it("scatter and parallel coordinates", () => {
    const s = scatterData(rows, { kind: "scatter", y: "metrics.loss/val.min", x: "params.General/lr", agg: "avg" }, byName);
    expect(s.x).toEqual([0.1, 0.01, 0.1]);
    expect(s.names).toEqual(["run a", "run b", "run c"]);
    const p = parallelLines(rows.slice(0, 3), ["params.General/lr", "params.General/opt", "metrics.loss/val.min"]);
    expect(p.axes[1]!.ticks).toEqual([[0, "adam"], [1, "sgd"]]);
    expect(p.lines[0]!.y.slice(0, 2)).toEqual([1, 1]);
    expect(p.lines[0]!.y[2]).toBeCloseTo(0.5);
    expect(p.lines[1]!.y).toEqual([0, 0, 0]);
  });
});
