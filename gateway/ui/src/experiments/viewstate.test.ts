import { describe, expect, it } from "vitest";
import { DEFAULT_COLUMNS, effectiveFilter, fromSaved, readView, savedState, tableParams, viewUrl } from "./viewstate";

const at = (path: string) => new URL(`http://x${path}`);

describe("the view in the URL", () => {
  it("has defaults for what the URL leaves out", () => {
    const view = readView(at("/projects/vision/resnet"));
    expect(view.project).toBe("vision/resnet");
    expect(view.columns).toEqual(DEFAULT_COLUMNS);
    expect(view.tab).toBe("info");
    expect(viewUrl(view)).toBe("/projects/vision/resnet");
  });
  it("round-trips every part", () => {
    const url = "/projects/a%20b/c?filter=metrics.loss+%3C+1&order=-metrics.loss&cols=attributes.name%2Cmetrics.%60x%2C+y%60.max"
      + "&group=attributes.user&status=running%2Cfailed&tag=best&user=ann&view=archive&exp=abc&tab=console&full=1";
    const view = readView(at(url));
    expect(view.project).toBe("a b/c");
    expect(view.columns).toEqual(["attributes.name", "metrics.`x, y`.max"]);
    expect(view.statuses).toEqual(["running", "failed"]);
    expect(view.tab).toBe("console");
    expect(readView(at(viewUrl(view)))).toEqual(view);
  });
  it("ignores statuses and tabs it does not know", () => {
    const view = readView(at("/projects/p?status=running,bogus&tab=nope"));
    expect(view.statuses).toEqual(["running"]);
    expect(view.tab).toBe("info");
  });
});

describe("the request", () => {
  it("puts the person's filter first and the quick filters after", () => {
    const view = readView(at("/projects/p?filter=metrics.a+%3E+1+OR+tags.t+%3D+'x'&status=running&tag=it's"));
    expect(effectiveFilter(view)).toEqual({
      text: "(metrics.a > 1 OR tags.t = 'x') AND attributes.status IN ('running') AND attributes.tags IN ('it''s')",
      offset: 1,
    });
    expect(effectiveFilter(readView(at("/projects/p?filter=x"))).offset).toBe(0);
  });
  it("asks only for the columns rows do not carry", () => {
    const view = readView(at("/projects/p?cols=attributes.name,metrics.loss.max&view=archive"));
    expect(tableParams(view)).toMatchObject({ columns: "metrics.loss.max", archived: true, project: "p" });
  });
});

describe("a view's saved parts", () => {
  it("keeps column widths, panels and the hidden runs in the URL, round-trip", () => {
    const url = "/projects/p?cols=attributes.name,metrics.`a,b`/v&widths=attributes.name:220,metrics.`a,b`/v:90,bad:5&panels=%5B%5D&hide=x,y&sv=mine";
    const view = readView(at(url));
    expect(view.widths).toEqual({ "attributes.name": 220, "metrics.`a,b`/v": 90 }); // 5 px is no width
    expect(view.hidden).toEqual(["x", "y"]);
    expect(view.saved).toBe("mine");
    expect(readView(at(viewUrl(view)))).toEqual(view);
    expect(savedState(view)).not.toContain("sv=");
    expect(fromSaved("p", savedState(view), "mine")).toEqual({ ...view, selected: "", tab: "info", full: false });
  });
});
