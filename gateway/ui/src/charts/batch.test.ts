import { describe, expect, it } from "vitest";
import { split } from "./batch";

describe("split", () => {
  const asks = (...weights: number[]) => weights.map((weight, i) => ({ weight, i }));
  it("keeps asks in order, within the charts and series of one request", () => {
    expect(split(asks(1, 1, 1, 1, 1), 2, 10).map((b) => b.map((a) => a.i))).toEqual([[0, 1], [2, 3], [4]]);
    expect(split(asks(300, 150, 100, 5), 50, 500).map((b) => b.map((a) => a.i))).toEqual([[0, 1], [2, 3]]);
  });
  it("gives a chart heavier than the limit a request of its own", () => {
    expect(split(asks(2, 900, 3), 50, 500).map((b) => b.map((a) => a.i))).toEqual([[0], [1], [2]]);
  });
  it("of nothing, nothing", () => expect(split([])).toEqual([]));
});
