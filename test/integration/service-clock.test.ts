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
  });
});
