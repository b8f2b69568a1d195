import { describe, expect, it } from "vitest";
import { complete, errorPosition, label, literal, splitIdentifiers, suggest, wordAt } from "./querylang";

const IDS = ["attributes.status", "attributes.started", "metrics.loss/train", "metrics.`val loss/top-1`", "params.Args/lr"];

describe("completion", () => {
  it("finds the identifier being typed, quoted names included", () => {
    expect(wordAt("metrics.lo", 10)).toEqual({ start: 0, word: "metrics.lo" });
    expect(wordAt("attributes.status = 'x' AND metrics.`val lo", 43).word).toBe("metrics.`val lo");
    expect(wordAt("attributes.name = 'metrics.lo", 29).word).toBe("");
    expect(wordAt("", 0).word).toBe("");
  });
  it("offers what starts with the word, then what contains it, and metric aggregates", () => {
    expect(suggest("metrics.lo", IDS)).toEqual(["metrics.loss/train", "metrics.loss/train.min", "metrics.loss/train.max"]);
    expect(suggest("attributes.sta", IDS)).toEqual(["attributes.status", "attributes.started"]);
    expect(suggest("lr", IDS)).toEqual(["params.Args/lr"]);
    expect(suggest("an", IDS)).toEqual(["AND"]);
    expect(suggest("metrics.`val", IDS)[0]).toBe("metrics.`val loss/top-1`");
    expect(suggest("", IDS)).toEqual([]);
  });
  it("replaces the word and puts the cursor after it", () => {
    expect(complete("metrics.lo < 1", 10, "metrics.loss/train")).toEqual({ text: "metrics.loss/train < 1", cursor: 19 });
    expect(complete("a = 1 AND metrics.`val l", 24, "metrics.`val loss/top-1`").text).toBe(
      "a = 1 AND metrics.`val loss/top-1` ",
    );
  });
});

describe("values, errors and labels", () => {
  it("quotes text and leaves numbers", () => {
    expect(literal("it's")).toBe("'it''s'");
    expect(literal(0.5)).toBe("0.5");
  });
  it("reads the server's error position", () => {
    expect(errorPosition("at position 12: unexpected word 'foo'")).toBe(12);
    expect(errorPosition("metrics.x: unknown")).toBeNull();
  });
  it("splits identifier lists outside quotes", () => {
    expect(splitIdentifiers("metrics.a, metrics.`x, y`.max,,tags.t")).toEqual(["metrics.a", "metrics.`x, y`.max", "tags.t"]);
  });
  it("labels columns for people", () => {
    expect(label("metrics.loss/train.max")).toBe("loss/train (max)");
    expect(label("metrics.loss/train")).toBe("loss/train");
    expect(label("metrics.`val loss`.min")).toBe("val loss (min)");
    expect(label("params.Args/lr")).toBe("lr (Args)");
    expect(label("attributes.started")).toBe("started");
  });
});
