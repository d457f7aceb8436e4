import { expect, it } from "vitest";

// The test gate's own fixture (scripts/gate-selfcheck.ts copies it into test/ under a
// temporary name and runs it through the real Vitest config): one test that passes and one
// that must fail. Not matched by the normal suite's `test/**/*.test.ts`.
it("gate fixture: passes", () => {
  expect(1 + 1).toBe(2);
});

it("gate fixture: fails on purpose", () => {
  expect(1 + 1).toBe(3);
});
