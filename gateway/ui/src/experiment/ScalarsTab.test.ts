import { describe, expect, it } from "vitest";
import { overviewSamples } from "./ScalarsTab";

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
