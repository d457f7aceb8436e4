import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";

/**
 * The services' clock: every write records the time the clock says (its ledger timestamp,
 * a denial's time), on the pool path and through Prisma alike — what lets the demo seed
 * and the window tests write history as it would have happened, without sleeping.
 */
const { prisma, pool } = testDatabase();

describe("an injected clock", () => {
  it.each([
    ["the pool path", true],
    ["the Prisma path", false],
  ])("%s: increment, incrementMany, consume and a denial are recorded at the clock's time", async (_, onPool) => {
    const at = new Date("2026-03-08T06:59:59.123Z");
    const services = createBillingServices(prisma, { pool: onPool ? pool : undefined, clock: () => at });
    const org = await newOrg(prisma);
    const inc = await services.usage.increment(org.id, "members", 5n, "test");
    const [batch] = await services.usage.incrementMany([{ orgId: org.id, metric: "teams", amount: 2n, reason: "test" }]);
    const consumed = await services.entitlements.consume(org.id, "api.call", { idempotencyKey: `clock-${uniqueSuffix()}` });
    const denied = await services.entitlements.consume(org.id, "member.add", { idempotencyKey: `clock-${uniqueSuffix()}` }); // free plan: 5 members
    expect(denied.allowed).toBe(false);

    expect(inc.entry.timestamp).toEqual(at);
    expect(batch?.status === "applied" && batch.entry.timestamp).toEqual(at);
    expect(consumed.entry?.timestamp).toEqual(at);
    const rows = await prisma.usageLedger.findMany({ where: { orgId: org.id }, select: { timestamp: true } });
    // api.call writes two rows (api_calls and api_calls_hourly, its `also`), and has two cache rows.
    expect(rows.map((r) => r.timestamp)).toEqual([at, at, at, at]);
    const denials = await prisma.entitlementDenial.findMany({ where: { orgId: org.id }, select: { createdAt: true } });
    expect(denials.map((d) => d.createdAt)).toEqual([at]);
    const cache = await prisma.usageCache.findMany({ where: { orgId: org.id }, select: { lastUpdated: true } });
    expect(cache.map((c) => c.lastUpdated)).toEqual([at, at, at, at]);

    // A first usage that writes nothing still creates its cache rows, at the clock's time too
    // (they read the database's clock once, which made two seeded histories differ).
    const quiet = await newOrg(prisma);
    await expect(services.usage.increment(quiet.id, "members", -1n, "test")).rejects.toMatchObject({ reason: "gauge_below_zero" });
    const [rejected] = await services.usage.incrementMany([{ orgId: quiet.id, metric: "teams", amount: -1n, reason: "test" }]);
    expect(rejected?.status).toBe("rejected");
    const over = await services.entitlements.consume(quiet.id, "api.call", {
      idempotencyKey: `clock-${uniqueSuffix()}`,
      amount: 10n ** 12n,
    });
    expect(over.allowed).toBe(false);
    const created = await prisma.usageCache.findMany({
      where: { orgId: quiet.id },
      select: { metric: true, lastUpdated: true, count: true },
    });
    expect(created.map((c) => c.metric).sort()).toEqual(["api_calls", "api_calls_hourly", "members", "teams"]);
    expect(created.map((c) => c.lastUpdated)).toEqual([at, at, at, at]);
  });
});
