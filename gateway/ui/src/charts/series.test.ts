import { describe, expect, it } from "vitest";
import { drawable, extreme, join, robustRange, smooth, toCsv } from "./series";

describe("join", () => {
  it("puts series of different lengths on one x grid, null where one has no point", () => {
    const j = join([
      { x: [0, 10, 20], line: [1, 2, 3], min: [1, 2, 3], max: [1, 2, 3] },
      { x: [0, 10], line: [5, 6], min: [4, 5], max: [6, 7] },
    ]);
    expect(j.x).toEqual([0, 10, 20]);
    expect(j.line).toEqual([[1, 2, 3], [5, 6, null]]);
    expect(j.max[1]).toEqual([6, 7, null]);
  });
});

describe("smooth", () => {
  const ramp = [0, 0, 0, 10, 0, 0, 0];
  it("leaves the values alone at weight 0", () => {
    expect(smooth(ramp, 0)).toBe(ramp);
  });
  it("debiases the EMA: a constant stays that constant", () => {
    expect(smooth([3, 3, 3, 3], 0.9).every((v) => Math.abs((v as number) - 3) < 1e-9)).toBe(true);
  });
  it("spreads a spike and keeps its mass about right, for every kind", () => {
    for (const kind of ["ema", "average", "gaussian"] as const) {
      const out = smooth(ramp, 0.6, kind) as number[];
      expect(Math.max(...out)).toBeLessThan(10);
      expect(out[3]).toBeGreaterThan(0);
    }
  });
  it("keeps nulls and NaN where they are", () => {
    expect(smooth([1, null, Number.NaN, 1], 0.5, "gaussian")).toEqual([1, null, Number.NaN, 1]);
  });
});

describe("extreme and csv", () => {
  it("finds the band's extremes, ignoring nulls", () => {
    expect(extreme([[1, null, 7], [null, -2]], "max")).toBe(7);
    expect(extreme([[1, null, 7], [null, -2]], "min")).toBe(-2);
    expect(extreme([[null]], "max")).toBeNull();
  });
  it("writes a column per series, min and max", () => {
    expect(toCsv([0, 1], ["loss, train"], [[1, 2]], [[0.5, null]], [[1.5, 2]])).toBe(
      'x,"loss, train","loss, train min","loss, train max"\n0,1,0.5,1.5\n1,2,,2\n',
    );
  });
});

describe("robustRange", () => {
  it("spans the bulk of the values, not a lone outlier", () => {
    const line = Array.from({ length: 100 }, (_, i) => i / 100);
    line[50] = 1000;
    const [lo, hi] = robustRange([line])!;
    expect(hi).toBeLessThan(2);
    expect(lo).toBeLessThan(0.03);
    expect(robustRange([[null, null]])).toBeNull();
  });
});

describe("drawable", () => {
  it("turns NaN and infinities sent as strings into gaps", () => {
    expect(drawable([1, "NaN", "Infinity", null, 2.5])).toEqual([1, null, null, null, 2.5]);
  });
});
