import { describe, expect, it } from "vitest";
import { z } from "zod";

import { keysetPage, keysetPageSchema, keysetTake, pageLimit } from "@/server/billing/keyset-page";

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `r${i}` }));
const cursorOf = (last: { id: string }) => ({ id: last.id });

describe("keysetPage", () => {
  it("fetches one row more than the page", () => {
    expect(keysetTake(50)).toBe(51);
  });

  it("gives the first `limit` rows and the cursor of the last one when a further row came back", () => {
    expect(keysetPage(rows(keysetTake(2)), 2, cursorOf)).toEqual({ items: rows(2), nextCursor: { id: "r1" } });
  });

  it("has no next cursor on the last page, full or not, nor on an empty one", () => {
    expect(keysetPage(rows(2), 2, cursorOf)).toEqual({ items: rows(2), nextCursor: null });
    expect(keysetPage(rows(1), 2, cursorOf)).toEqual({ items: rows(1), nextCursor: null });
    expect(keysetPage([], 2, cursorOf)).toEqual({ items: [], nextCursor: null });
  });

  it("brings a requested page size into 1…max, with a default", () => {
    expect(pageLimit(undefined, 50, 200)).toBe(50);
    expect(pageLimit(0, 50, 200)).toBe(1);
    expect(pageLimit(1_000, 50, 200)).toBe(200);
    expect(pageLimit(7, 50, 200)).toBe(7);
  });

  it("describes a page as items and a nullable cursor", () => {
    const schema = keysetPageSchema(z.object({ id: z.string() }), z.object({ id: z.string() }));
    expect(schema.parse({ items: rows(1), nextCursor: null })).toEqual({ items: rows(1), nextCursor: null });
    expect(schema.safeParse({ items: rows(1) }).success).toBe(false);
  });
});
