import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";

import { fakeId, subscriptionPayload } from "../../tools";
import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);

/** An org on a paid plan through a real subscription sync (customer id from the payload). */
async function paidOrg(product = "pdt_billing_pro", init: Parameters<typeof subscriptionPayload>[0] = {}) {
  const org = await newOrg(prisma);
  const sub = subscriptionPayload({ orgId: org.id, product_id: product, ...init });
  await billing.dodo.syncSubscription({
    id: fakeId("msg"),
    type: "subscription.active",
    timestamp: new Date(Date.now() - 60_000),
    data: sub,
  });
  return { org, sub };
}

const outboxOf = (orgId: string) => prisma.usageReportOutbox.findMany({ where: { orgId }, orderBy: { eventTimestamp: "asc" } });

describe("the usage-report outbox", () => {
  it("receives a consumed api call in the same statement as its ledger row, with the customer and meter", async () => {
    const { org, sub } = await paidOrg();
    const result = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `call-${uniqueSuffix()}` });
    expect(result.allowed).toBe(true);
    const rows = await outboxOf(org.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      ledgerId: result.entry?.id,
      metric: "api_calls",
      eventName: "api_calls",
      customerId: sub.customer.customer_id,
      subscriptionId: sub.subscription_id,
      quantity: 1n,
      status: "pending",
      attempts: 0,
    });
    expect(rows[0]?.eventTimestamp.getTime()).toBe(result.entry?.timestamp.getTime());
  });

  it("receives increments and batch increments of metered usage, once per ledger row", async () => {
    const { org } = await paidOrg("pdt_billing_business");
    const key = `inc-${uniqueSuffix()}`;
    const first = await billing.usage.increment(org.id, "api_calls", 5n, "api_call", { idempotencyKey: key });
    const replay = await billing.usage.increment(org.id, "api_calls", 5n, "api_call", { idempotencyKey: key });
    expect(replay.replayed).toBe(true);
    const batch = await billing.usage.incrementMany([
      { orgId: org.id, metric: "api_calls", amount: 2n, reason: "api_call", idempotencyKey: "b1" },
      { orgId: org.id, metric: "api_calls", amount: 2n, reason: "api_call", idempotencyKey: "b1" },
      { orgId: org.id, metric: "api_calls", amount: 4n, reason: "api_call" },
      { orgId: org.id, metric: "members", amount: 1n, reason: "member_added" },
    ]);
    expect(batch.map((r) => r.status)).toEqual(["applied", "duplicate", "applied", "applied"]);
    const rows = await outboxOf(org.id);
    expect(rows.map((r) => r.quantity).sort()).toEqual([2n, 4n, 5n]);
    const ledger = await prisma.usageLedger.findMany({ where: { orgId: org.id, metric: "api_calls" } });
    expect(new Set(rows.map((r) => r.ledgerId))).toEqual(new Set(ledger.map((l) => l.id)));
    expect(rows.some((r) => r.ledgerId === first.entry.id)).toBe(true);
  });

  it("receives a one-statement batch's metered rows over several orgs, with each org's customer, once per row", async () => {
    const [a, b] = [await paidOrg(), await paidOrg()];
    const free = await newOrg(prisma);
    // Cache rows in their windows first, so the batch below is incrementMany's one statement.
    for (const org of [a.org, b.org, free]) await billing.usage.increment(org.id, "api_calls", 1n, "api_call");
    const before = await prisma.usageReportOutbox.count({ where: { orgId: { in: [a.org.id, b.org.id] } } });
    const events = [a.org, b.org, free, a.org].map((org, i) => ({
      orgId: org.id,
      metric: "api_calls" as const,
      amount: BigInt(i + 1),
      reason: "api_call",
    }));
    const results = await billing.usage.incrementMany(events);
    expect(results.map((r) => r.status)).toEqual(["applied", "applied", "applied", "applied"]);
    const ids = results.map((r) => (r.status === "applied" ? r.entry.id : ""));
    const rows = await prisma.usageReportOutbox.findMany({ where: { ledgerId: { in: ids } } });
    expect(rows.map((r) => [r.ledgerId, r.customerId, r.quantity]).sort()).toEqual(
      [
        [ids[0], a.sub.customer.customer_id, 1n],
        [ids[1], b.sub.customer.customer_id, 2n],
        [ids[3], a.sub.customer.customer_id, 4n],
      ].sort(),
    );
    expect(await prisma.usageReportOutbox.count({ where: { orgId: { in: [a.org.id, b.org.id] } } })).toBe(before + 3);
    expect(await outboxOf(free.id)).toHaveLength(0);
  });

  it("receives nothing for free orgs, unmetered metrics, resets, corrections, or usage outside the paid period", async () => {
    const free = await newOrg(prisma);
    await billing.entitlements.consume(free.id, "api.call", { idempotencyKey: `free-${uniqueSuffix()}` });
    expect(await outboxOf(free.id)).toHaveLength(0);

    const { org } = await paidOrg();
    await billing.entitlements.consume(org.id, "member.add", { idempotencyKey: `m-${uniqueSuffix()}` });
    await billing.usage.increment(org.id, "api_calls", 10n, "manual_adjustment");
    await billing.usage.increment(org.id, "api_calls", -3n, "api_call_refund");
    await billing.usage.resetPeriod(org.id, "api_calls", new Date("2026-11-01T00:00:00Z"));
    expect(await outboxOf(org.id)).toHaveLength(0);

    const lapsed = await paidOrg("pdt_billing_pro", {
      status: "cancelled",
      periodStart: new Date(Date.now() - 40 * 86_400_000),
      periodEnd: new Date(Date.now() - 10 * 86_400_000),
    });
    await billing.usage.increment(lapsed.org.id, "api_calls", 1n, "api_call");
    expect(await outboxOf(lapsed.org.id)).toHaveLength(0);
  });

  it("meters usage recorded before a late subscription webhook once it arrives (within Dodo's window), once", async () => {
    const org = await newOrg(prisma);
    const early = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `early-${uniqueSuffix()}` });
    await billing.usage.increment(org.id, "members", 1n, "member_added");
    expect(await outboxOf(org.id)).toHaveLength(0);

    const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_pro" });
    await billing.dodo.syncSubscription({
      id: fakeId("msg"),
      type: "subscription.active",
      timestamp: new Date(Date.now() - 60_000),
      data: sub,
    });
    await billing.dodo.syncSubscription({
      id: fakeId("msg"),
      type: "subscription.updated",
      timestamp: new Date(Date.now() - 30_000),
      data: sub,
    });
    const rows = await outboxOf(org.id);
    expect(rows.map((r) => r.ledgerId)).toEqual([early.entry?.id]);
    expect(rows[0]).toMatchObject({ customerId: sub.customer.customer_id, subscriptionId: sub.subscription_id, status: "pending" });
  });

  it("uses the subscription the policy uses: a newer pending one (free plan) is not billed to an older active one", async () => {
    const { org } = await paidOrg();
    const newer = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_business", status: "pending" });
    await billing.dodo.syncSubscription({ id: fakeId("msg"), type: "subscription.updated", timestamp: new Date(), data: newer });
    expect((await billing.entitlements.check(org.id, "api.call")).plan).toBe("free");
    await billing.usage.increment(org.id, "api_calls", 1n, "api_call");
    expect(await outboxOf(org.id)).toHaveLength(0);
  });

  it("shares the caller's transaction: a rolled-back increment leaves neither ledger row nor outbox row", async () => {
    const { org } = await paidOrg();
    await expect(
      prisma.$transaction(async (tx) => {
        await billing.usage.increment(org.id, "api_calls", 1n, "api_call", { tx });
        expect(await tx.usageReportOutbox.count({ where: { orgId: org.id } })).toBe(1);
        throw new Error("host write failed");
      }),
    ).rejects.toThrow("host write failed");
    expect(await outboxOf(org.id)).toHaveLength(0);
    expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(0);
  });
});
