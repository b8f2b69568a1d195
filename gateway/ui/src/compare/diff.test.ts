import { describe, expect, it } from "vitest";
import { best, lowerIsBetter, rows, splitPackage, keyedLines, lineDiff } from "./diff";

describe("rows", () => {
  it("lines values up by key and marks the differing rows", () => {
    const out = rows([{ lr: "0.1", batch: "32" }, { lr: "0.01", batch: "32" }, { batch: "32", extra: "x" }]);
    expect(out).toEqual([
      { key: "batch", values: ["32", "32", "32"], differs: false },
      { key: "extra", values: [null, null, "x"], differs: true },
      { key: "lr", values: ["0.1", "0.01", null], differs: true },
    ]);
  });
});

describe("best", () => {
  it("takes the lowest loss and the highest accuracy", () => {
    expect(lowerIsBetter("loss")).toBe(true);
    expect(lowerIsBetter("accuracy")).toBe(false);
    expect(best([0.3, 0.1, 0.2], true)).toEqual([1]);
    expect(best([0.3, 0.1, 0.2], false)).toEqual([0]);
    expect(best([0.1, 0.3, 0.1], true)).toEqual([0, 2]); // a tie marks both
    expect(best([0.5, 0.5], true)).toEqual([]); // all equal: nothing stands out
  });
  it("ignores what is not a number, and needs two numbers to compare", () => {
    expect(best([null, "NaN", 0.5, 0.4], true)).toEqual([3]);
    expect(best([null, 0.5], true)).toEqual([]);
  });
});

describe("splitPackage", () => {
  it("splits pinned requirements", () => {
    expect(splitPackage("NumPy==2.1.0")).toEqual(["numpy", "2.1.0"]);
    expect(splitPackage("torch @ file:///wheels/torch.whl")).toEqual(["torch", "file:///wheels/torch.whl"]);
    expect(splitPackage("editable-thing")).toEqual(["editable-thing", ""]);
  });
});

describe("lineDiff", () => {
  it("keeps common lines and marks what each side alone has", () => {
    const d = lineDiff(["a", "b", "c", "d"], ["a", "c", "x", "d"]);
    expect(d.map((l) => l.op + l.text)).toEqual([" a", "-b", " c", "+x", " d"]);
    expect(lineDiff([], ["n"])).toEqual([{ op: "+", text: "n" }]);
    expect(lineDiff(["k = 1"], ["k = 2"]).map((l) => l.op + l.text)).toEqual(["-k = 1", "+k = 2"]); // removed first
    expect(lineDiff(["same"], ["same"])).toEqual([{ op: " ", text: "same" }]);
  });
  it("writes keyed values as sorted lines", () => {
    expect(keyedLines({ b: "2", a: "1" })).toEqual(["a = 1", "b = 2"]);
  });
});
