import { afterAll, describe, expect, inject, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { createDatabase } from "@/server/db/client";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { holdRowLock } from "../helpers/row-lock-gate";

/**
 * An hour quota under 32 consumes racing across the hour boundary, on the server's pool path
 * with a connection each: half read their clock just before the boundary, half just after,
 * and all of them wait on the row lock before any goes, so the order they reach the row in
 * is PostgreSQL's, not ours. Neither window may pass its limit, no unit may be lost.
 */
const { prisma, pool } = testDatabase();
// 32 connections: every consume holds one while it waits on the lock, as 32 servers would.
const wide = createDatabase(inject("databaseUrl"), { max: 32, applicationName: "vitest-window-race" });
afterAll(() => wide.close());

const BOUNDARY = new Date("2026-12-02T15:00:00.000Z");
const OLD_WINDOW = new Date("2026-12-02T14:00:00.000Z");
const LIMIT = 10n; // exports: free plan, hard 10 an hour
const ALREADY = 7n;
const CONSUMERS = 32;

describe("exports (hard 10 an hour) under 32 consumes straddling the hour boundary", () => {
  it("never more than 10 in either window, every unit either applied or denied, cache == SUM(ledger)", async () => {
    const org = await newOrg(prisma);
    const setup = createBillingServices(prisma, { clock: () => new Date(BOUNDARY.getTime() - 10 * 60_000) });
    await setup.usage.increment(org.id, "exports", ALREADY, "export_created");

    // Each consume reads the clock once, synchronously, when it is called. The first 8 read it
    // before the boundary (more than the old window has left), then the sides alternate: 20
    // before, 12 after, in the order they queue on the lock (roughly the order called).
    const before = (i: number) => i < 8 || i % 2 === 0;
    const clocks = Array.from({ length: CONSUMERS }, (_, i) => new Date(BOUNDARY.getTime() + (before(i) ? -1 - i : i)));
    let next = 0;
    const racing = createBillingServices(wide.prisma, { pool: wide.pool, clock: () => clocks[next++] as Date });

    const gate = await holdRowLock(pool, "SELECT 1 FROM usage_cache WHERE org_id = $1::uuid AND metric = 'exports' FOR UPDATE", [org.id]);
    let settled = 0;
    const results = Promise.all(
      clocks.map(() =>
        racing.entitlements.consume(org.id, "export.create", { idempotencyKey: `race-${uniqueSuffix()}` }).finally(() => (settled += 1)),
      ),
    );
    try {
      await gate.waitForWaiters(CONSUMERS, () => settled > 0);
    } finally {
      await gate.release();
    }
    const decisions = await results;
    expect(next).toBe(CONSUMERS);

    const applied = decisions.filter((d) => d.allowed);
    const denied = decisions.filter((d) => !d.allowed);
    expect(denied.every((d) => d.reason?.code === "limit_exceeded")).toBe(true);
    expect(await prisma.entitlementDenial.count({ where: { orgId: org.id } })).toBe(denied.length);

    const ledger = await prisma.usageLedger.findMany({ where: { orgId: org.id, metric: "exports" } });
    const resets = ledger.filter((r) => r.reason === "window_reset");
    expect(resets.map((r) => r.idempotencyKey)).toEqual([`window_reset:exports:${BOUNDARY.toISOString()}`]);
    const oldWindow = -(resets[0]?.delta ?? 0n); // everything the old window counted
    const cache = await prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId: org.id, metric: "exports" } } });
    expect(cache.windowStart).toEqual(BOUNDARY);

    // The 12 consumes after the boundary alone want more than the new window holds: it fills exactly.
    expect(cache.count).toBe(LIMIT);
    expect(oldWindow).toBeGreaterThanOrEqual(ALREADY);
    expect(oldWindow).toBeLessThanOrEqual(LIMIT);
    // No unit lost: the applied consumes are exactly what the two windows counted beyond the setup.
    expect(BigInt(applied.length)).toBe(oldWindow - ALREADY + cache.count);
    expect(ledger.filter((r) => r.reason === "export_created")).toHaveLength(1 + applied.length);
    expect(await racing.usage.verify(org.id)).toEqual([]);

    // Each applied consume saw its own window's count, never past the limit.
    for (const decision of applied) {
      expect(decision.used).toBeLessThanOrEqual(LIMIT);
      expect([OLD_WINDOW.getTime(), BOUNDARY.getTime()]).toContain(decision.windowStart?.getTime());
    }
    expect(applied.filter((d) => d.windowStart?.getTime() === BOUNDARY.getTime()).map((d) => d.used)).toHaveLength(Number(LIMIT));
    expect(applied.filter((d) => d.windowStart?.getTime() === OLD_WINDOW.getTime())).toHaveLength(Number(oldWindow - ALREADY));
    // Only consumes that read the clock before the boundary can have counted in the old window.
    expect(applied.filter((d) => d.entry && d.entry.timestamp >= BOUNDARY && d.windowStart?.getTime() === OLD_WINDOW.getTime())).toEqual(
      [],
    );
  });
});
