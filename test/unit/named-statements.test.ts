import { describe, expect, it } from "vitest";

import { namedStatement, statementName } from "@/server/db/client";

// The hot path's prepared-statement names (src/server/db/client.ts): one name per distinct
// text, found again for a text built afresh, and none for a statement with too many
// parameters.
describe("named statements", () => {
  const built = (parts: string[]) => parts.reduce((text, part) => text + part, ""); // a fresh (concatenated) string each call

  it("gives a text built afresh the name, and the very string, it got the first time", () => {
    const first = namedStatement(built(["SELECT ", "1 ", "AS one_", String(Math.random())]), 0);
    expect(first?.name).toMatch(/^p_[0-9a-f]{24}$/);
    const again = namedStatement(built([(first as { text: string }).text]), 0);
    expect(again?.name).toBe(first?.name);
    expect(again?.text).toBe(first?.text);
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
