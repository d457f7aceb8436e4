import { describe, expect, it } from "vitest";

import { instantIdCursorParam } from "@/app/_lib/cursor-param";
import { queryString, withQuery } from "@/app/_lib/query-string";

describe("queryString / withQuery", () => {
  it("keeps only the set values, URL-encoded, later objects winning", () => {
    expect(queryString({ org: "", metric: "api_calls", actor: undefined, page: null })).toBe("metric=api_calls");
    expect(queryString({ status: "failed", type: "a b" }, { status: "processed", after: "2024-01-02T03:04:05.000Z|x" })).toBe(
      "status=processed&type=a+b&after=2024-01-02T03%3A04%3A05.000Z%7Cx",
    );
    expect(queryString({ status: "failed" }, { status: "" })).toBe("");
    expect(queryString({ near: 80, page: 2 })).toBe("near=80&page=2");
  });

  it("adds `?query` to the path only when something is set", () => {
    expect(withQuery("/ledger", { org: "" })).toBe("/ledger");
    expect(withQuery("/ledger", { org: "o", metric: "teams" })).toBe("/ledger?org=o&metric=teams");
  });
});

describe("instantIdCursorParam", () => {
  const param = instantIdCursorParam("createdAt", "id");
  const cursor = { createdAt: new Date("2024-05-06T07:08:09.123Z"), id: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a" };

  it("writes `<ISO instant>_<uuid>` and reads it back", () => {
    expect(param.write(cursor)).toBe("2024-05-06T07:08:09.123Z_0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a");
    expect(param.read(param.write(cursor))).toEqual(cursor);
    expect(param.read([param.write(cursor).toUpperCase()])).toEqual(cursor);
  });

  it("reads a malformed value as no cursor", () => {
    for (const bad of [undefined, "", "garbage", "2024-05-06_not-a-uuid", `not-a-date_${cursor.id}`, cursor.id]) {
      expect(param.read(bad)).toBeUndefined();
    }
  });
});
