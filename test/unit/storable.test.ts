import { describe, expect, it } from "vitest";

import { METADATA_MAX_DEPTH, METADATA_MAX_JSON_LENGTH, metadataProblem, unstorableText } from "@/server/billing/storable";

describe("unstorableText", () => {
  it("refuses a NUL and a lone surrogate of either half; accepts surrogate pairs", () => {
    expect(unstorableText("a\u0000b")).toMatch(/NUL/);
    for (const lone of ["\ud800", "x\udbff", "\udc00y", "\ud83d\ud83d\ude00"]) expect(unstorableText(lone)).toMatch(/UTF-16/);
    for (const ok of ["", "plain", "x-\u{1F600}", "\ufffd", "é漢"]) expect(unstorableText(ok)).toBeNull();
  });
});

describe("metadataProblem: the one metadata rule", () => {
  it("names the path and the reason of the first problem", () => {
    const circular: Record<string, unknown> = { a: [1] };
    circular.self = { back: circular };
    const deep = { d: Array.from({ length: METADATA_MAX_DEPTH + 1 }).reduce<unknown>((inner) => [inner], 0) };
    expect(metadataProblem({ n: 1n })).toEqual({ path: ["n"], message: expect.stringMatching(/JSON data.*bigint/) });
    expect(metadataProblem(circular)).toEqual({ path: ["self", "back"], message: expect.stringMatching(/circular/) });
    expect(metadataProblem(deep)?.message).toMatch(/deeper than 32/);
    expect(metadataProblem({ t: ["ok", "a\u0000"] })).toEqual({ path: ["t", 1], message: expect.stringMatching(/NUL/) });
    expect(metadataProblem({ "k\ud800": 1 })).toEqual({ path: ["k\ud800"], message: expect.stringMatching(/^key .*UTF-16/) });
    expect(metadataProblem({ at: new Date() })?.message).toMatch(/not a Date/);
    expect(metadataProblem({ m: new Map() })?.message).toMatch(/not a Map/);
    expect(metadataProblem({ x: Number.NaN })?.message).toMatch(/finite/);
    expect(metadataProblem([1])).toEqual({ path: [], message: "must be an object, not an array" });
    expect(metadataProblem({ big: "x".repeat(20_000) })?.message).toMatch(/16 KiB/);
  });

  it("accepts JSON data, a shared (not circular) sub-object and undefined", () => {
    const shared = { s: 1 };
    expect(metadataProblem({ a: shared, b: shared, c: [null, true, "é", 1.5, { u: undefined }], d: undefined })).toBeNull();
  });

  it("a sub-object shared over and over (what referentialEqualities can build) is refused by the size budget, not walked", () => {
    // Four references to the one sub-object per level: 4^8 = 65 536 leaves as a tree, nine
    // objects in memory. Getters count how many values the rule actually reads.
    let reads = 0;
    let node: unknown = "x";
    for (let level = 0; level < 8; level++) {
      const inner = node;
      node = Object.defineProperties(
        {},
        Object.fromEntries(["a", "b", "c", "d"].map((k) => [k, { enumerable: true, get: () => (reads++, inner) }])),
      );
    }
    expect(metadataProblem({ bomb: node })?.message).toMatch(/16 KiB/);
    // Every value read costs budget, so the walk stops at the size limit, whatever the tree.
    expect(reads).toBeLessThanOrEqual(METADATA_MAX_JSON_LENGTH);
  });
});
