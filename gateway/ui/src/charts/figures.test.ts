import { describe, expect, it } from "vitest";
import { confusionFigure, figureCsv, histogramOf, ridgeline } from "./figures";

const matrix = { data: [{ type: "heatmap", z: [[8, 2], [1, 9]], x: ["cat", "dog"], y: ["cat", "dog"] }] };

describe("confusion matrix", () => {
  it("shows counts, or each cell as a share of its row or column", () => {
    const counts = confusionFigure(matrix, "counts").data[0] as { z: number[][]; text: string[][] };
    expect(counts.z).toEqual([[8, 2], [1, 9]]);
    expect(counts.text[0]).toEqual(["8", "2"]);
    const rows = confusionFigure(matrix, "row").data[0] as { z: number[][]; text: string[][] };
    expect(rows.z[0]).toEqual([80, 20]);
    expect(rows.text[1]![1]).toBe("90.0%\n(9)");
    const cols = confusionFigure(matrix, "column").data[0] as { z: number[][] };
    expect(cols.z[0]![0]).toBeCloseTo(100 * 8 / 9);
    expect(cols.z[1]![1]).toBeCloseTo(100 * 9 / 11);
  });
  it("gives an all-zero row 0%, not NaN", () => {
    const z = confusionFigure({ data: [{ type: "heatmap", z: [[0, 0], [1, 1]] }] }, "row").data[0] as { z: number[][] };
    expect(z.z[0]).toEqual([0, 0]);
  });
});

describe("histograms", () => {
  const fig = (counts: number[]) => ({ data: [{ type: "bar", x: [0.5, 1.5], y: counts, width: [1, 1] }], histogram: { edges: [0, 1, 2], counts } });
  it("reads the raw bins, else the bars", () => {
    expect(histogramOf(3, fig([4, 5]))).toEqual({ iteration: 3, edges: [0, 1, 2], counts: [4, 5] });
    expect(histogramOf(0, { data: [{ type: "bar", x: [0.5, 1.5], y: [1, 2], width: [1, 1] }] })?.edges).toEqual([0, 1, 2]);
    expect(histogramOf(0, { data: [{ type: "scatter", x: [1], y: [1] }] })).toBeNull();
  });
  it("draws one ridge per iteration, the newest in front, drawn last", () => {
    const h = [histogramOf(0, fig([1, 3]))!, histogramOf(1, fig([2, 2]))!, histogramOf(2, fig([4, 0]))!];
    const r = ridgeline(h, { line: "#000", fill: () => "#fff" });
    const names = r.data.map((t) => t.name);
    expect(names).toEqual(["iteration 0", "iteration 1", "iteration 2"]);
    const front = r.data[2] as { y: number[] };
    expect(Math.min(...front.y)).toBe(0); // the newest sits on the baseline
    expect(Math.max(...front.y)).toBe(1); // the tallest bin of all is 1 high
    const back = r.data[0] as { y: number[] };
    expect(Math.min(...back.y)).toBeGreaterThan(0); // older ones behind, lifted
  });
});

describe("CSV", () => {
  it("writes tables, matrices, histograms and traces", () => {
    const table = { data: [{ type: "table", header: { values: ["name", "score"] }, cells: { values: [["a", "b,c"], [1, 2]] } }] };
    expect(figureCsv("table", table)).toBe('name,score\na,1\n"b,c",2\n');
    expect(figureCsv("confusion_matrix", matrix)).toBe("actual \\ predicted,cat,dog\ncat,8,2\ndog,1,9\n");
    expect(figureCsv("histogram", { data: [], histogram: { edges: [0, 1], counts: [7] } })).toBe("from,to,count\n0,1,7\n");
    expect(figureCsv("plotly", { data: [{ name: "roc", x: [0, 1], y: [0, 1] }] })).toBe("trace,x,y\nroc,0,0\nroc,1,1\n");
  });
});
