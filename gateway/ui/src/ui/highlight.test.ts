import { describe, expect, it } from "vitest";
import { tokens } from "./highlight";

const kinds = (text: string) => tokens(text).filter(([k]) => k !== "plain");

describe("tokens", () => {
  it("joins back into the text", () => {
    const text = '{"lr": 0.1, "name": "sgd", "nesterov": true}\n# done\n';
    expect(tokens(text).map(([, t]) => t).join("")).toBe(text);
  });

  it("marks JSON keys, strings, numbers and literals", () => {
    expect(kinds('{"lr": 0.1, "name": "sgd", "on": true, "x": null}')).toEqual([
      ["key", '"lr"'], ["number", "0.1"], ["key", '"name"'], ["string", '"sgd"'],
      ["key", '"on"'], ["literal", "true"], ["key", '"x"'], ["literal", "null"],
    ]);
  });

  it("marks YAML keys and comments, not numbers inside words", () => {
    expect(kinds("augment:\n  flip: true  # mirror\n  crop: 28\nmodel: resnet50\n")).toEqual([
      ["key", "augment"], ["key", "  flip"], ["literal", "true"], ["comment", "# mirror"],
      ["key", "  crop"], ["number", "28"], ["key", "model"],
    ]);
  });
});
