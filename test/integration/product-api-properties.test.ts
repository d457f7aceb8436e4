import { randomUUID } from "node:crypto";

import fc from "fast-check";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { METERED_ACTIONS, type MeteredAction, type MeteredActionName } from "@/server/billing/actions";
import { METRICS } from "@/server/billing/catalogue";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { orgState, startProductApi, type OrgState, type ProductApi, type ProductProcedure } from "../helpers/product-api";

/**
 * Property: whatever a caller sends to the five product procedures — valid-ish input or
 * hostile (NUL and lone surrogates, huge strings, numbers and bigints at and past int64,
 * deep / circular / bigint metadata, malformed superjson meta, upper-case and unknown org
 * ids) — the answer is 2xx or a typed 4xx with a reason, never a 500; a refusal changes
 * nothing; and after every answer each counter's cache equals the sum of its ledger rows.
 * Fixed seed, bounded runs: the same few hundred requests every time.
 */

const { prisma } = testDatabase();
let api: ProductApi;
const orgs: string[] = [];
const unknownOrg = randomUUID();
beforeAll(async () => {
  api = await startProductApi(prisma);
  for (const productId of [null, null, "pdt_billing_enterprise"]) {
    const { id } = await newOrg(prisma);
    if (productId) {
      await prisma.subscription.create({
        data: {
          id: `sub_${uniqueSuffix()}`,
          orgId: id,
          productId,
          status: "active",
          currentPeriodStart: new Date(Date.now() - 86_400_000),
          currentPeriodEnd: new Date(Date.now() + 29 * 86_400_000),
        },
      });
    }
    orgs.push(id);
  }
});
afterAll(() => api.close());

const INT64_MAX = 2n ** 63n - 1n;
const UNSTORABLE = ["\u0000", "\u0000", "\ud800", "\udbff", "\udc00", "\udfff"];

/** Strings: ordinary, with a NUL or a lone surrogate somewhere, astral, or huge. */
const text = (hugeUpTo: number) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...UNSTORABLE), fc.string({ maxLength: 6 }))
        .map(([a, b, c]) => a + b + c),
    },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
    { weight: 1, arbitrary: fc.constantFrom(256, hugeUpTo).map((n) => "k".repeat(n)) },
  );

/** Each field: mostly valid (so writes happen and counters climb to the int64 edge), sometimes hostile. */
const orgIdArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(0, 1, 2).map((i) => orgs[i] as string) },
  { weight: 4, arbitrary: fc.constantFrom(0, 1, 2).map((i) => (orgs[i] as string).toUpperCase()) },
  { weight: 1, arbitrary: fc.constant(unknownOrg) },
  { weight: 1, arbitrary: fc.oneof(text(300), fc.integer(), fc.constant(null)) },
);

const edges = [INT64_MAX, INT64_MAX - 1n, 2n ** 62n, -INT64_MAX, 2n ** 63n, -(2n ** 63n), 2n ** 64n, 0n];
const amountArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: -3, max: 5 }) },
  { weight: 4, arbitrary: fc.constantFrom(...edges) },
  { weight: 3, arbitrary: fc.constantFrom(...edges).map(String) },
  { weight: 1, arbitrary: fc.constantFrom(1.5, 2 ** 60, -(2 ** 70), Number.NaN, Infinity, "12abc", "", null) },
);

/** A plain object whose values may hold a cycle, a bigint, a deep array or hostile text. */
const metadataArb = fc.oneof(
  { weight: 12, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) },
  { weight: 2, arbitrary: fc.dictionary(text(20_000), text(20_000), { maxKeys: 2 }) },
  { weight: 1, arbitrary: fc.bigInt().map((n) => ({ n })) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 20, max: 80 })
      .map((depth) => ({ deep: Array.from({ length: depth }).reduce<unknown>((inner) => [inner], 1) })),
  },
  {
    weight: 1,
    arbitrary: fc.constant(null).map(() => {
      const circular: Record<string, unknown> = { a: 1 };
      circular.self = circular;
      return circular;
    }),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constant([1]), fc.string({ maxLength: 5 }), fc.date(), fc.constant(new Map([["a", 1]]))) },
);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("k1", "k2", "k3", "x-\ud83d\ude00") },
  { weight: 6, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constantFrom("x-\ud800", "x-\udbff") },
  { weight: 3, arbitrary: text(300) },
);
const metricArb = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...METRICS) }, { weight: 1, arbitrary: text(300) });
const reasonArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom("api_call", "member_added", "team_created") },
  { weight: 1, arbitrary: text(300) },
);
const actions = ["api.call", "member.add", "member.remove", "team.create", "file.upload", "file.delete", "feature.sso"];
const actionArb = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...actions) }, { weight: 1, arbitrary: text(300) });

const eventArb = fc.record(
  {
    orgId: orgIdArb,
    metric: metricArb,
    amount: amountArb,
    reason: reasonArb,
    idempotencyKey: optional(keyArb),
    metadata: optional(metadataArb),
  },
  { requiredKeys: [] },
);

const inputArb: fc.Arbitrary<{ procedure: ProductProcedure; input: unknown }> = fc.oneof(
  eventArb.map((input) => ({ procedure: "billing.usage.increment" as const, input })),
  fc
    .record(
      { events: fc.array(eventArb, { minLength: 1, maxLength: 5 }), atomic: optional(fc.oneof(fc.boolean(), fc.constant("yes"))) },
      { requiredKeys: ["events"] },
    )
    .map((input) => ({ procedure: "billing.usage.incrementMany" as const, input })),
  fc.record({ orgId: orgIdArb }).map((input) => ({ procedure: "billing.usage.get" as const, input })),
  fc
    .record({ orgId: orgIdArb, action: actionArb, amount: optional(amountArb) }, { requiredKeys: ["orgId", "action"] })
    .map((input) => ({ procedure: "billing.entitlements.check" as const, input })),
  fc
    .record(
      { orgId: orgIdArb, action: actionArb, amount: optional(amountArb), idempotencyKey: keyArb, metadata: optional(metadataArb) },
      { requiredKeys: ["orgId", "action", "idempotencyKey"] },
    )
    .map((input) => ({ procedure: "billing.entitlements.consume" as const, input })),
  fc.record({ orgId: orgIdArb }).map((input) => ({ procedure: "billing.entitlements.snapshot" as const, input })),
);

/** The wire form: superjson's envelope, or (sometimes) one with meta replaced by anything at all. */
const requestArb = fc.tuple(
  inputArb,
  fc.oneof(
    { weight: 16, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<unknown>(
        { values: ["custom", "x"] },
        { values: { orgId: ["class", "X"] } },
        { values: { orgId: ["bigint"] } },
        { referentialEqualities: [["orgId"]] },
      ),
    },
  ),
);

function encode(input: unknown, meta: unknown): string {
  const { json, meta: realMeta } = superjson.serialize(input);
  // JSON.stringify writes a lone surrogate as a `\udXXX` escape: it reaches the server as sent.
  return JSON.stringify(meta === undefined ? { json, meta: realMeta } : { json, meta });
}

/** Per (org, metric): cache count == SUM(ledger.delta). */
function drift(state: OrgState): string[] {
  const sums = new Map<string, bigint>();
  for (const row of state.ledger) sums.set(`${row.org}|${row.metric}`, (sums.get(`${row.org}|${row.metric}`) ?? 0n) + BigInt(row.delta));
  const problems = state.cache
    .filter((c) => BigInt(c.count) !== (sums.get(`${c.org}|${c.metric}`) ?? 0n))
    .map((c) => `${c.org} ${c.metric}`);
  // (orgState leaves out cache rows at 0.)
  for (const [key, sum] of sums) if (sum !== 0n && !state.cache.some((c) => `${c.org}|${c.metric}` === key)) problems.push(key);
  return problems;
}

const TYPED = new Map([
  [400, "BAD_REQUEST"],
  [404, "NOT_FOUND"],
  [409, "CONFLICT"],
]);

describe("product API properties over HTTP", () => {
  it("any input: 2xx or a typed 4xx with a reason, never a 500; a refusal changes nothing; cache == SUM(ledger)", async () => {
    const involved = () => [...orgs, unknownOrg];
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(requestArb, async ([{ procedure, input }, meta]) => {
        const before = await orgState(prisma, involved());
        const answer = await api.call(procedure, encode(input, meta));
        const after = await orgState(prisma, involved());
        answered++;
        if (answer.status !== 200) {
          expect(TYPED.get(answer.status), `status ${answer.status}: ${JSON.stringify(answer.body)?.slice(0, 300)}`).toBe(
            answer.error?.code,
          );
          expect(answer.error?.reason, JSON.stringify(answer.error)).toMatch(/^[a-z_]+$/);
          expect(after).toEqual(before);
          return;
        }
        expect(drift(after)).toEqual([]);
        const written = after.ledger.length - before.ledger.length;
        const data = answer.data as {
          replayed?: boolean;
          allowed?: boolean;
          results?: { status: string }[];
          entry?: { idempotencyKey: string | null };
        };
        if (["billing.usage.get", "billing.entitlements.check", "billing.entitlements.snapshot"].includes(procedure)) {
          expect(after).toEqual(before);
        }
        if (procedure === "billing.usage.increment") expect(written).toBe(data.replayed ? 0 : 1);
        // What is stored is what was sent: a key is never rewritten (a lone surrogate to U+FFFD).
        const sentKey = (input as { idempotencyKey?: unknown }).idempotencyKey;
        if (data.entry && typeof sentKey === "string") expect(data.entry.idempotencyKey).toBe(sentKey.trim());
        if (procedure === "billing.usage.incrementMany") expect(written).toBe(data.results?.filter((r) => r.status === "applied").length);
        if (procedure === "billing.entitlements.consume") {
          // One row for the action's metric and one for each metric it also counts (actions.ts `also`).
          const action = (input as { action?: string }).action as MeteredActionName;
          const rows = 1 + ((METERED_ACTIONS[action] as MeteredAction | undefined)?.also?.length ?? 0);
          expect(written).toBe(data.allowed && !data.replayed ? rows : 0);
        }
      }),
      // A fixed seed and a bounded number of runs: reproducible, and well under a minute here.
      { seed: 20_261_124, numRuns: 200, interruptAfterTimeLimit: 90_000, markInterruptAsFailure: true },
    );
    expect(answered).toBeGreaterThanOrEqual(200);
  }, 120_000);
});
