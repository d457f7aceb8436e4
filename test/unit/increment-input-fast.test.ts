import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { METRICS } from "@/server/billing/catalogue";
import { fastIncrementInput } from "@/server/billing/increment-input-fast";
import { incrementInputSchema } from "@/server/billing/schemas";

/**
 * incrementMany's zod-free parse of the plainest events: whenever it answers, it answers
 * exactly what `incrementInputSchema` answers; when in doubt it declines (zod decides).
 */

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const text = (max: number) =>
  fc.oneof(
    fc.string({ maxLength: max }),
    fc.constantFrom("", " ", "  key  ", "a\u0000b", "x\ud800", "\u{1F600}", "k".repeat(255), "k".repeat(256), "a".repeat(201)),
  );
/** Mostly `valid` (so the fast way answers often), else anything from `other`. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: other });
const event = fc.record(
  {
    orgId: mostly(
      fc.oneof(
        fc.uuid(),
        fc.uuid().map((u) => u.toUpperCase()),
      ),
      fc.oneof(fc.constantFrom("00000000-0000-0000-0000-000000000000", "not-a-uuid", "00000000-0000-4000-8000-00000000000g"), fc.integer()),
    ),
    metric: mostly(fc.constantFrom(...METRICS), fc.constantFrom("nope", "API_CALLS", "__proto__")),
    amount: mostly(
      fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n }), fc.integer({ min: -5, max: 5 })),
      fc.oneof(
        fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
        fc.constantFrom(0n, 2n ** 63n - 1n, 2n ** 63n, -(2n ** 63n) + 1n, -(2n ** 63n)),
        fc.constantFrom(0, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, Number.NaN, "12", "-3"),
      ),
    ),
    reason: mostly(
      fc.constantFrom("api_call", "member_added", "x", "r".repeat(64)),
      fc.oneof(fc.constantFrom("Bad", "a__b", "a_", "r".repeat(65)), fc.string()),
    ),
    idempotencyKey: mostly(maybe(fc.string({ minLength: 1, maxLength: 40 })), text(300)),
    actor: mostly(maybe(fc.string({ minLength: 1, maxLength: 40 })), text(250)),
    metadata: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom({}, { a: 1 }) }),
    extra: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant("stripped") }),
  },
  { requiredKeys: ["orgId", "metric", "amount", "reason"] },
);

describe("fastIncrementInput", () => {
  it("answers what incrementInputSchema answers, or declines", () => {
    let answered = 0;
    fc.assert(
      fc.property(event, (raw) => {
        const fast = fastIncrementInput(raw);
        if (fast === undefined) return;
        answered++;
        const zod = incrementInputSchema.safeParse(raw);
        expect(zod.success).toBe(true);
        expect(fast).toStrictEqual(zod.data);
      }),
      { numRuns: 5_000 },
    );
    // Not vacuous: a good share of the generated events took the fast way.
    expect(answered).toBeGreaterThan(100);
  });

  it("takes the events a product app sends (bigint or integer amounts, keys, actors) without zod", () => {
    const orgId = "00000000-0000-4000-8000-00000000000A";
    const parsed = fastIncrementInput({ orgId, metric: "api_calls", amount: 3, reason: "api_call", idempotencyKey: " k1 ", actor: "svc" });
    expect(parsed).toStrictEqual({
      orgId: orgId.toLowerCase(),
      metric: "api_calls",
      amount: 3n,
      reason: "api_call",
      idempotencyKey: "k1",
      actor: "svc",
    });
    expect(fastIncrementInput({ orgId, metric: "members", amount: -1n, reason: "member_removed" })).toBeDefined();
    // Declined, for zod to judge: metadata, a digit string, a class instance, an invalid event.
    for (const raw of [
      { orgId, metric: "api_calls", amount: 1n, reason: "api_call", metadata: {} },
      { orgId, metric: "api_calls", amount: "1", reason: "api_call" },
      new (class {
        orgId = orgId;
      })(),
      { orgId, metric: "api_calls", amount: 0n, reason: "api_call" },
    ]) {
      expect(fastIncrementInput(raw)).toBeUndefined();
    }
  });
});
