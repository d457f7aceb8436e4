import { describe, expect, it } from "vitest";

import { orgIdSchema } from "@/server/billing/schemas";

import { choicesArg, exclusiveFlag, fileArg, integerArg, parseOptions, schemaArg, UsageError } from "../../scripts/lib/args";

// The primitives every script's options are made of (scripts/lib/args.ts): each mistake is
// a UsageError of one line, which readCommandLine and runScript print as `<command>: …`.

describe("command-line primitives", () => {
  it("reads whole numbers in range, else names the flag and the range", () => {
    expect(integerArg("--n", undefined, { min: 1, max: 9 }, 5)).toBe(5);
    expect(integerArg("--n", undefined, { min: 1, max: 9 })).toBeUndefined();
    expect(integerArg("--n", " 7 ", { min: 1, max: 9 })).toBe(7);
    for (const raw of ["0", "10", "-1", "1.5", "1e3", "", "x"]) {
      expect(() => integerArg("--n", raw, { min: 1, max: 9 })).toThrow(new UsageError(`--n must be an integer from 1 to 9, got "${raw}"`));
    }
  });

  it("turns parseArgs' mistakes into one line with the usage", () => {
    expect(parseOptions(["--a", "x"], { a: { type: "string" } }, "usage: cmd --a X")).toEqual({ a: "x" });
    for (const argv of [["--bogus"], ["positional"], ["--a"]]) {
      let error: unknown;
      try {
        parseOptions(argv, { a: { type: "string" } }, "usage: cmd --a X");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toMatch(/^[^\n]+ \(usage: cmd --a X\)$/);
    }
  });

  it("refuses two exclusive flags, a blank file name, an unknown choice and what a schema refuses", () => {
    expect(exclusiveFlag({ a: true }, ["a", "b"])).toBe("a");
    expect(exclusiveFlag({}, ["a", "b"])).toBeUndefined();
    expect(() => exclusiveFlag({ a: true, b: true }, ["a", "b"])).toThrow(new UsageError("choose one of --a, --b (got --a, --b)"));
    expect(fileArg("--csv", undefined)).toBeUndefined();
    expect(() => fileArg("--csv", " ")).toThrow(new UsageError("--csv needs a file name"));
    expect(choicesArg("--only", undefined, ["x", "y"], "part")).toEqual(["x", "y"]);
    expect(choicesArg("--only", "y, x", ["x", "y"], "part")).toEqual(["y", "x"]);
    expect(() => choicesArg("--only", "x,z", ["x", "y"], "part")).toThrow(new UsageError('--only: unknown part "z" (choose from x, y)'));
    const id = "0B4C7E0A-1111-4222-8333-944455556666";
    expect(schemaArg("--org", id, orgIdSchema)).toBe(id.toLowerCase());
    expect(() => schemaArg("--org", "nope", orgIdSchema)).toThrow(new UsageError('--org must be an organization id (UUID), got "nope"'));
  });
});
