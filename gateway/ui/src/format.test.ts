import { describe, expect, it } from "vitest";
import { ago, bytes, colourOf, count, duration, number, plural } from "./format";

describe("ago", () => {
  const now = 1_700_000_000;
  it("says just now within a minute", () => expect(ago(now - 30, now)).toBe("just now"));
  it("counts minutes, hours and days back", () => {
    expect(ago(now - 5 * 60, now)).toBe("5 minutes ago");
    expect(ago(now - 3 * 3600, now)).toBe("3 hours ago");
    expect(ago(now - 86400, now)).toBe("yesterday");
  });
  it("says never for a missing time", () => expect(ago(0, now)).toBe("never"));
});

describe("count", () => {
  it("groups thousands", () => expect(count(1234567)).toBe("1,234,567"));
});

describe("plural", () => {
  it("says one thing once", () => {
    expect(plural(1, "experiment")).toBe("1 experiment");
    expect(plural(2000, "experiment")).toBe("2,000 experiments");
  });
});

describe("durations, sizes and numbers", () => {
  it("reads like people write them", () => {
    expect(duration(75)).toBe("1m 15s");
    expect(duration(7384)).toBe("2h 3m");
    expect(duration(200000)).toBe("2d 7h");
    expect(duration(null)).toBe("—");
    expect(bytes(1536)).toBe("1.5 KB");
    expect(bytes(12)).toBe("12 B");
    expect(number(0.123456)).toBe("0.1235");
    expect(number(1e-7)).toBe("1.000e-7");
    expect(number("NaN")).toBe("NaN");
    expect(number(1234567)).toBe("1,234,567");
    expect(colourOf("abc")).toBe(colourOf("abc"));
  });
});
