import { describe, expect, it } from "vitest";
import type { Execution } from "../api";
import { reproduce } from "./ExecutionTab";

const base: Execution = {
  experiment_id: "e", repository: "", branch: "", commit: "", diff: "", entry_point: "", working_dir: "",
  argv: "", python: "", packages: [], environment: {}, runtime: {},
};

describe("reproduce", () => {
  it("clones, checks out the commit, applies the diff, installs and runs", () => {
    const text = reproduce({
      ...base, repository: "git@github.com:acme/vision.git", branch: "main", commit: "abc123", diff: "+x",
      entry_point: "train.py", argv: "--lr 0.1", working_dir: "src", packages: ["numpy==2.1.0", "torch==2.5.0"],
    });
    expect(text.split("\n")).toEqual([
      "git clone git@github.com:acme/vision.git vision",
      "cd vision",
      "git checkout abc123",
      "git apply uncommitted.diff   # the diff below, saved to a file",
      "pip install numpy==2.1.0 torch==2.5.0",
      "cd src",
      "python train.py --lr 0.1",
    ]);
  });

  it("quotes what the shell would split, and falls back to the branch", () => {
    const text = reproduce({ ...base, repository: "https://host/a b.git", branch: "feature/x", entry_point: "my script.py" });
    expect(text).toContain("git clone 'https://host/a b.git' 'a b'");
    expect(text).toContain("git checkout feature/x");
    expect(text).toContain("python 'my script.py'");
  });

  it("does not repeat the script that heads the recorded command line", () => {
    const text = reproduce({ ...base, entry_point: "examples/tour.py", argv: "/work/examples/tour.py --epochs 3" });
    expect(text).toBe("python examples/tour.py --epochs 3");
    expect(reproduce({ ...base, entry_point: "train.py", argv: "train.py" })).toBe("python train.py");
  });

  it("is empty when nothing was reported", () => {
    expect(reproduce(base)).toBe("");
  });
});
