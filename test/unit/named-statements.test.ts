import { describe, expect, it } from "vitest";

import { namedStatement, statementName } from "@/server/db/client";

// The hot path's prepared-statement names (src/server/db/client.ts): one name per distinct
// text, found again for a text built afresh, and none for a statement with too many
// parameters.
describe("named statements", () => {
  // A text built from parts at run time, as Prisma.Sql's `text` getter builds one per call.
  const built = (head: string, tail: string) => `${head}${tail}`;

  it("gives a text built afresh the name, and the canonical text, it got the first time", () => {
    const tail = `1 AS one_${String(Math.random()).slice(2)}`;
    const first = namedStatement(built("SELECT ", tail), 0);
    expect(first?.name).toMatch(/^p_[0-9a-f]{24}$/);
    const again = namedStatement(built("SELECT ", tail), 0);
    expect(again).toBe(first); // the same record: its text is the string pg was first given
    expect(again?.text).toBe(`SELECT ${tail}`);
  });

  it("tells apart texts of the same length", () => {
    const seed = String(Math.random()).slice(2, 10).padEnd(8, "0");
    const a = namedStatement(`SELECT 'a${seed}'`, 1);
    const b = namedStatement(`SELECT 'b${seed}'`, 1);
    expect(a?.text.length).toBe(b?.text.length);
    expect(a?.name).not.toBe(b?.name);
    expect(namedStatement(`SELECT 'a${seed}'`, 1)?.name).toBe(a?.name);
    expect(namedStatement(`SELECT 'b${seed}'`, 1)?.name).toBe(b?.name);
  });

  it("names no statement with more than 32 parameters, and Prisma's adapter gets the same names", () => {
    expect(namedStatement("SELECT $1", 33)).toBeUndefined();
    expect(statementName({ sql: "SELECT $1", args: Array.from({ length: 33 }) })).toBeUndefined();
    expect(statementName({ sql: "SELECT $1 AS x", args: [1] })).toBe(namedStatement("SELECT $1 AS x", 1)?.name);
  });
});
