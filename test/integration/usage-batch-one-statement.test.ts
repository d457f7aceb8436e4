import { describe, expect, it, vi } from "vitest";

import { createBillingServices } from "@/server/billing";

import { newOrg, newSubscription, testDatabase, uniqueSuffix } from "../helpers/db";

/**
 * incrementMany's common case is one statement (usage-batch-write.ts), none of Prisma's
 * transaction; a billing-period metric's subscriptions are read once, then remembered and
 * re-checked by the statement. The
 * cases it cannot judge in one go fall back to the sequential transaction with the same
 * answers (the rest of incrementMany's tests hold those).
 */
const { prisma, pool } = testDatabase();
const services = createBillingServices(prisma, { pool });

/** The statements `work` sends on the services' pool, and whether it opened a Prisma transaction. */
async function counted<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[]; transactions: number }> {
  const query = vi.spyOn(pool, "query");
  const transaction = vi.spyOn(prisma, "$transaction");
  try {
    const result = await work();
    const statements = query.mock.calls.map(([q]) => (typeof q === "string" ? q : (q as { text: string }).text).trim().slice(0, 30));
    return { result, statements, transactions: transaction.mock.calls.length };
  } finally {
    query.mockRestore();
    transaction.mockRestore();
  }
}

describe("incrementMany in one statement", () => {
  it("a batch of new gauge events whose cache rows exist: one statement, exact counts", async () => {
    const org = await newOrg(prisma);
    await services.usage.increment(org.id, "members", 2n, "test_setup");
    await services.usage.increment(org.id, "teams", 1n, "test_setup");
    const { result, statements, transactions } = await counted(() =>
      services.usage.incrementMany([
        { orgId: org.id, metric: "members", amount: 3n, reason: "member_added", idempotencyKey: `a-${uniqueSuffix()}` },
        { orgId: org.id, metric: "teams", amount: 1, reason: "team_created", actor: "svc" },
        { orgId: org.id, metric: "members", amount: -4n, reason: "member_removed" },
      ]),
    );
    // The statement, then the teams row's alert band stored again: the batch took teams from
    // 1 to 2, its 80 % and 100 % level on the free plan (usage-alerts/alert-band.ts).
    expect(statements).toEqual([expect.stringMatching(/^WITH e AS/), expect.stringMatching(/^WITH t AS/)]);
    expect(transactions).toBe(0);
    expect(result.map((r) => r.status)).toEqual(["applied", "applied", "applied"]);
    expect(result[1]).toMatchObject({ entry: { metric: "teams", delta: 1n, actor: "svc", metadata: {} } });
    const usage = await services.usage.getUsage(org.id);
    expect(usage.find((u) => u.metric === "members")?.count).toBe(1n);
    expect(usage.find((u) => u.metric === "teams")?.count).toBe(2n);
    expect(await services.usage.verify(org.id)).toEqual([]);
  });

  it("a billing-period metric: its subscription read once, then remembered and re-checked; repeats of history judged after the statement", async () => {
    const org = await newOrg(prisma);
    await newSubscription(prisma, org.id, {
      currentPeriodStart: new Date(Date.now() - 86_400_000),
      currentPeriodEnd: new Date(Date.now() + 20 * 86_400_000),
    });
    const key = `h-${uniqueSuffix()}`;
    await services.usage.increment(org.id, "api_calls", 2n, "api_call", { idempotencyKey: key }); // starts the window
    const { result, statements, transactions } = await counted(() =>
      services.usage.incrementMany([
        { orgId: org.id, metric: "api_calls", amount: 2n, reason: "api_call", idempotencyKey: key }, // the same work
        { orgId: org.id, metric: "api_calls", amount: 5n, reason: "api_call", idempotencyKey: key.toUpperCase() },
        { orgId: org.id, metric: "api_calls", amount: 1n, reason: "api_call" },
      ]),
    );
    // The subscriptions, the statement, and (a key repeated from history) that key's row.
    expect(statements).toEqual([
      expect.stringMatching(/^SELECT o\.id/),
      expect.stringMatching(/^WITH e AS/),
      expect.stringMatching(/^SELECT l\.org_id/),
    ]);
    expect(transactions).toBe(0);
    expect(result.map((r) => r.status)).toEqual(["duplicate", "applied", "applied"]);
    expect(result[0]).toMatchObject({ duplicateOf: "history" });
    // The subscription is remembered: the next batch is the one statement alone…
    const next = await counted(() =>
      services.usage.incrementMany([{ orgId: org.id, metric: "api_calls", amount: 1n, reason: "api_call" }]),
    );
    expect(next.statements).toEqual([expect.stringMatching(/^WITH e AS/)]);
    // …and re-checked by it: once the subscription changed, the statement writes nothing, the
    // subscription is read again, and the statement runs on it.
    await prisma.subscription.updateMany({ where: { orgId: org.id }, data: { productId: "pdt_billing_enterprise" } });
    const changed = await counted(() =>
      services.usage.incrementMany([{ orgId: org.id, metric: "api_calls", amount: 1n, reason: "api_call" }]),
    );
    // (The new plan moved the alert levels, so the statement decided them, and the row's alert
    // band is stored again.)
    expect(changed.statements).toEqual([
      expect.stringMatching(/^WITH e AS/),
      expect.stringMatching(/^SELECT o\.id/),
      expect.stringMatching(/^WITH e AS/),
      expect.stringMatching(/^WITH t AS/),
    ]);
    expect(changed.result.map((r) => r.status)).toEqual(["applied"]);
    // A repeat of other work under a history key: rejected, the rest applied.
    const again = await services.usage.incrementMany([
      { orgId: org.id, metric: "api_calls", amount: 9n, reason: "api_call", idempotencyKey: key },
      { orgId: org.id, metric: "api_calls", amount: 1n, reason: "api_call" },
    ]);
    expect(again.map((r) => (r.status === "rejected" ? r.reason.code : r.status))).toEqual(["idempotency_key_reused", "applied"]);
    const usage = await services.usage.getUsage(org.id);
    expect(usage.find((u) => u.metric === "api_calls")?.count).toBe(11n);
    expect(await services.usage.verify(org.id)).toEqual([]);
  });

  it("what one statement cannot judge (a missing cache row, a count going below zero) falls back with the same answers", async () => {
    const org = await newOrg(prisma);
    const { result, transactions } = await counted(() =>
      services.usage.incrementMany([
        { orgId: org.id, metric: "members", amount: 1n, reason: "member_added" },
        { orgId: org.id, metric: "members", amount: -2n, reason: "member_removed" },
        { orgId: org.id, metric: "members", amount: 1n, reason: "member_added" },
      ]),
    );
    expect(transactions).toBe(1);
    expect(result.map((r) => (r.status === "rejected" ? r.reason.code : r.status))).toEqual(["applied", "gauge_below_zero", "applied"]);
    expect(await services.usage.verify(org.id)).toEqual([]);
  });
});
