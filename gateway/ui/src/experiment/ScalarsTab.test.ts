import { describe, expect, it } from "vitest";
import { overviewSamples, signature } from "./ScalarsTab";

describe("overviewSamples", () => {
  it("is about a bucket per pixel of the plot, in steps of 100", () => {
    expect(overviewSamples(650)).toBe(600);
    expect(overviewSamples(671)).toBe(700);
  });
  it("stays between 200 and 1000", () => {
    expect(overviewSamples(0)).toBe(200);
    expect(overviewSamples(5000)).toBe(1000);
  });
});

describe("signature", () => {
  const series = (total: number, x: number[]) => ({
    metric: "loss", variant: "train", total_points: total, downsampled: true, x, min: x, max: x, mean: x, last: x, count: x.map(() => 1),
  });
  it("is the same for the same points read again, and differs when points come or the range moves", () => {
    expect(signature([series(10, [0, 5, 9])])).toBe(signature([series(10, [0, 5, 9])]));
    expect(signature([series(11, [0, 5, 10])])).not.toBe(signature([series(10, [0, 5, 9])]));
    expect(signature([series(10, [2, 5, 7])])).not.toBe(signature([series(10, [0, 5, 9])]));
  });
});
