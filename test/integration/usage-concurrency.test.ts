import { describe, expect, inject, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import type { Metric } from "@/server/billing/catalogue";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { runWorkerProcesses } from "../helpers/worker-processes";
import type { UsageWorkerConfig, UsageWorkerReport } from "../workers/usage-worker";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const WORKERS = 8;
const OPS_PER_WORKER = 150;

async function subscribePro(orgId: string) {
  await prisma.subscription.create({
    data: {
      id: `sub_${uniqueSuffix()}`,
      orgId,
      productId: "pdt_billing_pro",
      status: "active",
      currentPeriodStart: new Date(Date.now() - 86_400_000),
      currentPeriodEnd: new Date(Date.now() + 29 * 86_400_000),
    },
  });
}

describe("usage under 8 worker processes, every write path", () => {
  it(`${WORKERS} processes × ${OPS_PER_WORKER} increments, consumes and incrementMany batches: zero drift, ledger = what the workers applied, no consume over a hard limit`, async () => {
    // Shared orgs take all three write paths. increment is not limit-checked, so their counts
    // may pass a limit; there, each applied consume's committed count is what must stay under
    // it. Consume-only orgs change under the limit check alone: their counts end under it too.
    const shared = await Promise.all(Array.from({ length: 12 }, () => newOrg(prisma)));
    await Promise.all(shared.slice(0, 6).map((org) => subscribePro(org.id)));
    const consumeOnlyPro = await newOrg(prisma);
    await subscribePro(consumeOnlyPro.id);
    const consumeOnlyFree = await newOrg(prisma);
    const consumeOnlyCapped = await newOrg(prisma);
    await billing.overrides.set({
      orgId: consumeOnlyCapped.id,
      metric: "api_calls",
      kind: "hard",
      value: 40n,
      note: "a low cap",
      createdBy: "test",
    });
    const consumeOnly = [consumeOnlyPro, consumeOnlyFree, consumeOnlyCapped];
    // Start them one step or so below their limits, so the few consumes each gets reach them.
    // Which org and action each consume picks depends on the interleaving, and members and
    // teams also go down: the counters no action lowers (exports per hour, AI requests per
    // day) start one below their limits on every org, so a denial does not depend on luck.
    const setup: [string, Metric, bigint][] = [
      [consumeOnlyPro.id, "members", 24n],
      [consumeOnlyPro.id, "teams", 9n],
      [consumeOnlyPro.id, "exports", 99n],
      [consumeOnlyPro.id, "ai_requests", 999n],
      [consumeOnlyFree.id, "members", 4n],
      [consumeOnlyFree.id, "teams", 1n],
      [consumeOnlyFree.id, "storage_bytes", 1024n ** 3n - 100n * 1024n ** 2n],
      [consumeOnlyFree.id, "exports", 9n],
      [consumeOnlyFree.id, "ai_requests", 49n],
      [consumeOnlyCapped.id, "api_calls", 38n],
      [consumeOnlyCapped.id, "exports", 9n],
      [consumeOnlyCapped.id, "ai_requests", 49n],
    ];
    for (const [orgId, metric, amount] of setup) await billing.usage.increment(orgId, metric, amount, "test_setup");
    const orgIds = [...shared, ...consumeOnly].map((o) => o.id);

    const config: UsageWorkerConfig = {
      seed: 0,
      ops: OPS_PER_WORKER,
      mix: { increment: 0.4, consume: 0.4, incrementMany: 0.2 },
      orgIds: shared.map((o) => o.id),
      consumeOnlyOrgIds: consumeOnly.map((o) => o.id),
    };
    const reports = await runWorkerProcesses<UsageWorkerReport>(
      "test/workers/usage-worker.ts",
      Array.from({ length: WORKERS }, (_, i) => ({
        WORKER_DATABASE_URL: inject("databaseUrl"),
        WORKER_CONFIG: JSON.stringify({ ...config, seed: 1_000 + i }),
      })),
    );

    expect(reports.flatMap((r) => r.rejected)).toEqual([]);
    expect(reports.flatMap((r) => r.overLimit)).toEqual([]);
    // The load really reached every branch: limits, zero, replays, in-batch and earlier keys.
    const total = (pick: (r: UsageWorkerReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
    expect(total((r) => r.cappedApplied)).toBeGreaterThan(0);
    expect(total((r) => r.refused)).toBeGreaterThan(0);
    expect(total((r) => r.duplicates.batch)).toBeGreaterThan(0);
    expect(total((r) => r.duplicates.history)).toBeGreaterThan(0);
    expect(total((r) => Object.values(r.consumes).reduce((n, t) => n + t.replayed, 0))).toBeGreaterThan(0);

    // Every ledger row was applied by exactly one worker call, and every replay points at one.
    const ledger = await prisma.usageLedger.findMany({
      where: { orgId: { in: orgIds } },
      select: { id: true, orgId: true, metric: true, delta: true, reason: true, idempotencyKey: true, metadata: true },
    });
    const appliedIds = reports.flatMap((r) => r.appliedIds);
    // A consume's rows for its action's extra metrics (actions.ts `also`) carry no key: each names its primary's.
    const countsWith = (row: (typeof ledger)[number]) => (row.metadata as { countsWith?: string } | null)?.countsWith;
    expect(
      ledger
        .filter((row) => row.reason !== "test_setup" && !countsWith(row))
        .map((row) => row.id)
        .sort(),
    ).toEqual([...appliedIds].sort());
    const keys = new Set(ledger.map((row) => `${row.orgId}|${row.idempotencyKey}`));
    expect(ledger.filter((row) => countsWith(row) && !keys.has(`${row.orgId}|${countsWith(row)}`))).toEqual([]);
    const ledgerIds = new Set(ledger.map((row) => row.id));
    expect(reports.flatMap((r) => r.replayedIds).filter((id) => !ledgerIds.has(id))).toEqual([]);

    // cache == SUM(ledger) == the deltas the workers saw applied, for every (org, metric).
    const applied = new Map<string, bigint>(setup.map(([orgId, metric, amount]) => [`${orgId}|${metric}`, amount]));
    for (const report of reports) {
      for (const [key, delta] of Object.entries(report.applied)) applied.set(key, (applied.get(key) ?? 0n) + BigInt(delta));
    }
    const sums = new Map<string, bigint>();
    for (const row of ledger) sums.set(`${row.orgId}|${row.metric}`, (sums.get(`${row.orgId}|${row.metric}`) ?? 0n) + row.delta);
    const cache = await prisma.usageCache.findMany({ where: { orgId: { in: orgIds } } });
    expect(cache.length).toBeGreaterThan(0);
    for (const row of cache) {
      const key = `${row.orgId}|${row.metric}`;
      expect(row.count, key).toBe(sums.get(key) ?? 0n);
      expect(row.count, key).toBe(applied.get(key) ?? 0n);
      expect(row.count >= 0n, key).toBe(true);
    }
    for (const orgId of orgIds) expect(await billing.usage.verify(orgId)).toEqual([]);

    // Consume-only orgs end within every hard limit, and did reach some.
    for (const org of consumeOnly) {
      const { metrics } = await billing.entitlements.usageSummary(org.id);
      for (const m of metrics)
        if (m.limitKind === "hard" && m.limit !== null) expect(m.count <= m.limit, `${org.id} ${m.metric}`).toBe(true);
    }
    expect(
      await prisma.entitlementDenial.count({ where: { orgId: { in: consumeOnly.map((o) => o.id) }, reasonCode: "limit_exceeded" } }),
    ).toBeGreaterThan(0);
    // Each denial a worker was answered with is recorded once.
    const denied = total((r) => Object.values(r.consumes).reduce((n, t) => n + t.denied, 0));
    expect(await prisma.entitlementDenial.count({ where: { orgId: { in: orgIds } } })).toBe(denied);
  }, 240_000);
});
