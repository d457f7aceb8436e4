import { afterAll, describe, expect, inject, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { ALERT_BASIS } from "@/server/billing/usage-alerts/alert-band";
import { createDatabase } from "@/server/db/client";

import { newOrg, newSubscription, testDatabase, uniqueSuffix } from "../helpers/db";

/**
 * api.call counts two metrics (actions.ts `also`): the billing period's calls (free: hard
 * 10,000) and the hour's (free: hard 500). Both are enforced; the binding one answers; a
 * consume writes a row for each or none.
 */
const { prisma, pool } = testDatabase();

const HOUR = new Date("2026-12-02T10:00:00.000Z");
const at = (minutes: number) => new Date(HOUR.getTime() + minutes * 60_000);

function services(clock: { now: Date }, options: { pool?: boolean } = {}) {
  return createBillingServices(prisma, { pool: options.pool === false ? undefined : pool, clock: () => clock.now });
}

async function ledgerOf(orgId: string) {
  return prisma.usageLedger.findMany({ where: { orgId }, orderBy: { timestamp: "asc" } });
}

describe("api.call: the month's calls and the hour's", () => {
  it("a free org hits the hourly limit first; the next hour it may call again, the month kept counting", async () => {
    const org = await newOrg(prisma);
    const clock = { now: at(10) };
    const billing = services(clock);
    await billing.usage.increment(org.id, "api_calls", 498n, "api_call");
    await billing.usage.increment(org.id, "api_calls_hourly", 498n, "api_call");

    for (let i = 0; i < 2; i++) {
      const ok = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `ok-${i}-${uniqueSuffix()}` });
      expect(ok.allowed).toBe(true);
    }
    const checked = await billing.entitlements.check(org.id, "api.call");
    const denied = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `over-${uniqueSuffix()}` });
    for (const decision of [checked, denied]) {
      expect(decision).toMatchObject({
        allowed: false,
        metric: "api_calls_hourly",
        limit: 500n,
        used: 500n,
        remaining: 0n,
        reason: { code: "limit_exceeded" },
        windowStart: HOUR,
        windowEnd: at(60),
      });
    }
    const denials = await prisma.entitlementDenial.findMany({ where: { orgId: org.id } });
    expect(denials.map((d) => d.metric)).toEqual(["api_calls_hourly"]);

    clock.now = at(61);
    expect((await billing.entitlements.check(org.id, "api.call")).allowed).toBe(true);
    const next = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `next-${uniqueSuffix()}` });
    expect(next).toMatchObject({ allowed: true, metric: "api_calls_hourly", used: 1n, remaining: 499n, windowStart: at(60) });
    const summary = await billing.entitlements.usageSummary(org.id);
    const count = (metric: string) => summary.metrics.find((m) => m.metric === metric)?.count;
    expect(count("api_calls")).toBe(501n);
    expect(count("api_calls_hourly")).toBe(1n);
    expect(await billing.usage.verify(org.id)).toEqual([]);
  });

  it("an org near its monthly limit is denied by the month, though the hour has room", async () => {
    const org = await newOrg(prisma);
    const billing = services({ now: at(5) });
    await billing.usage.increment(org.id, "api_calls", 9_999n, "api_call");

    const last = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `last-${uniqueSuffix()}` });
    expect(last).toMatchObject({ allowed: true, metric: "api_calls", used: 10_000n, remaining: 0n });
    const checked = await billing.entitlements.check(org.id, "api.call");
    const denied = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `over-${uniqueSuffix()}` });
    for (const decision of [checked, denied]) {
      expect(decision).toMatchObject({ allowed: false, metric: "api_calls", limit: 10_000n, reason: { code: "limit_exceeded" } });
    }
    expect((await ledgerOf(org.id)).filter((r) => r.metric === "api_calls_hourly").map((r) => r.delta)).toEqual([1n]);
  });

  it("writes one row per metric, the extra one tied to the primary's key; a replay writes nothing and returns the original", async () => {
    for (const onPool of [true, false]) {
      const org = await newOrg(prisma);
      const billing = services({ now: at(20) }, { pool: onPool });
      const key = `replay-${uniqueSuffix()}`;
      const first = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: key, metadata: { route: "/v1/x" } });
      const again = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: key, metadata: { route: "/v1/x" } });
      expect(first.replayed).toBe(false);
      expect(again).toMatchObject({ allowed: true, replayed: true });
      expect(again.entry?.id).toBe(first.entry?.id);

      const ledger = await ledgerOf(org.id);
      expect(ledger).toHaveLength(2);
      const primary = ledger.find((r) => r.metric === "api_calls");
      const extra = ledger.find((r) => r.metric === "api_calls_hourly");
      expect(primary).toMatchObject({ id: first.entry?.id, idempotencyKey: key, delta: 1n, metadata: { route: "/v1/x" } });
      expect(extra).toMatchObject({
        idempotencyKey: null,
        delta: 1n,
        reason: "api_call",
        metadata: { route: "/v1/x", countsWith: key },
      });
      expect(await billing.usage.verify(org.id)).toEqual([]);
    }
  });

  it("reports only the metered metric to Dodo: the hour's row has no meter", async () => {
    const org = await newOrg(prisma);
    await newSubscription(prisma, org.id, { customerId: `cus_${uniqueSuffix()}` });
    const billing = services({ now: at(25) });
    const consumed = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `metered-${uniqueSuffix()}` });
    const outbox = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id } });
    expect(outbox.map((o) => [o.ledgerId, o.metric, o.quantity])).toEqual([[consumed.entry?.id, "api_calls", 1n]]);
  });

  it("in a caller's transaction, both rows commit with it", async () => {
    const org = await newOrg(prisma);
    const billing = services({ now: at(30) });
    const result = await prisma.$transaction((tx) =>
      billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `tx-${uniqueSuffix()}`, tx }),
    );
    expect(result.allowed).toBe(true);
    expect((await ledgerOf(org.id)).map((r) => r.metric).sort()).toEqual(["api_calls", "api_calls_hourly"]);
  });
});

describe("api.call on a row that has a band but no window yet", () => {
  it("is reset into its window and written, not refused as a race (the lean statement must treat a NULL window as moving)", async () => {
    const org = await newOrg(prisma);
    const clock = { now: at(20) };
    const billing = services(clock);
    // Rows as a write before windows existed left them (window_start NULL), each with a band
    // that holds: only the missing window may send the write to the deciding statement.
    await pool.query(
      `INSERT INTO usage_cache (org_id, metric, count, window_start, alert_next, alert_basis)
       SELECT $1::uuid, m, 0, NULL, 1000000, $2::int FROM unnest(ARRAY['api_calls', 'api_calls_hourly']) AS m`,
      [org.id, ALERT_BASIS],
    );
    const consumed = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `nullwin-${uniqueSuffix()}` });
    expect(consumed).toMatchObject({ allowed: true, used: 1n });
    const { rows } = await pool.query<{ metric: string; count: string; window_start: Date | null }>(
      `SELECT metric, count::text, window_start FROM usage_cache WHERE org_id = $1::uuid ORDER BY metric`,
      [org.id],
    );
    expect(rows.map((r) => [r.metric, r.count, r.window_start !== null])).toEqual([
      ["api_calls", "1", true],
      ["api_calls_hourly", "1", true],
    ]);
  });
});

// 32 connections: every consume holds one for its transaction, as 32 servers would.
const wide = createDatabase(inject("databaseUrl"), { max: 32, applicationName: "vitest-multi-window" });
afterAll(() => wide.close());

describe("api.call under 32 concurrent consumes at the hourly limit - 5", () => {
  it("applies exactly 5, each with both rows; both caches equal SUM(ledger)", async () => {
    const org = await newOrg(prisma);
    const now = at(40);
    const setup = createBillingServices(prisma, { clock: () => now });
    await setup.usage.increment(org.id, "api_calls_hourly", 495n, "api_call");
    await setup.usage.increment(org.id, "api_calls", 1_000n, "api_call");

    const racing = createBillingServices(wide.prisma, { pool: wide.pool, clock: () => now });
    const decisions = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        racing.entitlements.consume(org.id, "api.call", { idempotencyKey: `race-${i}-${uniqueSuffix()}` }),
      ),
    );
    const applied = decisions.filter((d) => d.allowed);
    expect(applied).toHaveLength(5);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.reason?.code === "limit_exceeded" && d.metric === "api_calls_hourly")).toBe(
      true,
    );
    expect(await prisma.entitlementDenial.count({ where: { orgId: org.id } })).toBe(27);

    const ledger = await ledgerOf(org.id);
    for (const decision of applied) {
      const key = decision.entry?.idempotencyKey;
      expect(ledger.filter((r) => (r.metadata as { countsWith?: string }).countsWith === key)).toHaveLength(1);
    }
    const caches = await prisma.usageCache.findMany({ where: { orgId: org.id }, orderBy: { metric: "asc" } });
    expect(caches.map((c) => [c.metric, c.count])).toEqual([
      ["api_calls", 1_005n],
      ["api_calls_hourly", 500n],
    ]);
    expect(await racing.usage.verify(org.id)).toEqual([]);
  });
});
