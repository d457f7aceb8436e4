import { describe, expect, it } from "vitest";

import { parseBackfillArgs } from "../../scripts/backfill/options";
import { UsageError } from "../../scripts/lib/args";

describe("parseBackfillArgs", () => {
  it("defaults to a dry run and reads every option", () => {
    expect(parseBackfillArgs([])).toMatchObject({
      mode: "dry_run",
      resume: false,
      batchSize: 1000,
      concurrency: 4,
      orgsPerTransaction: 50,
    });
    expect(
      parseBackfillArgs(["--apply", "--resume", "--batch-size", "5", "--concurrency", "2", "--csv", "x.csv", "--org-prefix", "s1-"]),
    ).toMatchObject({ mode: "apply", resume: true, batchSize: 5, concurrency: 2, csvPath: "x.csv", orgPrefix: "s1-" });
    expect(parseBackfillArgs(["--verify"]).mode).toBe("verify");
  });

  it("refuses mistakes with one line", () => {
    expect(() => parseBackfillArgs(["--apply", "--verify"])).toThrow(/choose one of/);
    expect(() => parseBackfillArgs(["--batch-size", "0"])).toThrow(/--batch-size must be an integer from 1/);
    expect(() => parseBackfillArgs(["--bogus"])).toThrow(UsageError);
  });
});
