import { describe, expect, it } from "vitest";
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
