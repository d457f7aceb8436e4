import { describe, expect, it } from "vitest";

import { UsageError } from "../../scripts/lib/args";
import { parseSeedArgs } from "../../scripts/seed/options";

describe("parseSeedArgs", () => {
  it("defaults to 100 orgs, seed 1, with the ledger", () => {
    expect(parseSeedArgs([])).toEqual({ orgs: 100, seed: 1, legacyOnly: false, history: false });
    expect(parseSeedArgs(["--orgs", "10000", "--seed", "42", "--legacy-only"])).toEqual({
      orgs: 10_000,
      seed: 42,
      legacyOnly: true,
      history: false,
    });
  });

  it("--history adds the demo history", () => {
    expect(parseSeedArgs(["--orgs", "200", "--history"])).toEqual({ orgs: 200, seed: 1, legacyOnly: false, history: true });
  });

  const invalid = [
    ["--orgs", "abc"],
    ["--orgs", "0"],
    ["--orgs", "1.5"],
    ["--seed", "-3"],
    ["--seed", "4294967296"],
    ["--bogus"],
    ["extra"],
    ["--legacy-only", "--history"],
  ];
  it.each(invalid.map((argv) => [argv.join(" "), argv] as const))("refuses `%s` with one line", (_, argv) => {
    let error: unknown;
    try {
      parseSeedArgs([...argv]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).not.toMatch(/\n/);
  });
});
