import { describe, expect, it } from "vitest";
import { withParams } from "./route";

describe("withParams", () => {
  it("sets, replaces and drops parameters", () => {
    const url = new URL("http://x/?view=cards&search=old");
    expect(withParams(url, { search: "resnet", order_by: "-last_update" })).toBe(
      "/?view=cards&search=resnet&order_by=-last_update",
    );
    expect(withParams(url, { search: "" })).toBe("/?view=cards");
  });
});
