import { describe, expect, inject, it } from "vitest";

import { createBillingServices, type BillingServices } from "@/server/billing";
import { createDatabase } from "@/server/db/client";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { runWorkerProcesses } from "../helpers/worker-processes";
import type { UsageWorkerConfig, UsageWorkerReport } from "../workers/usage-worker";

const { prisma, pool } = testDatabase();
// check/consume on the pg pool, as the server runs them (other suites cover the Prisma path).
const billing = createBillingServices(prisma, { pool });

async function subscribe(orgId: string, productId: string, status = "active", extra: { updatedAt?: Date; currentPeriodEnd?: Date } = {}) {
  return prisma.subscription.create({
    data: {
      id: `sub_${uniqueSuffix()}`,
      orgId,
      productId,
      status,
      currentPeriodStart: new Date(Date.now() - 86_400_000),
      currentPeriodEnd: extra.currentPeriodEnd ?? new Date(Date.now() + 29 * 86_400_000),
      updatedAt: extra.updatedAt ?? new Date(),
    },
  });
}

describe("EntitlementService against the database", () => {
  it("an org without a subscription is on the free plan", async () => {
    const org = await newOrg(prisma);
    const result = await billing.entitlements.check(org.id, "member.add");
    expect(result).toMatchObject({ allowed: true, plan: "free", subscriptionStatus: "none", limit: 5n, used: 0n, remaining: 5n });
  });

  it("the subscription's product picks the plan; statuses shape the answer", async () => {
    const org = await newOrg(prisma);
    await subscribe(org.id, "pdt_billing_business");
    expect(await billing.entitlements.check(org.id, "feature.sso")).toMatchObject({ allowed: true, plan: "business" });

    const lapsed = await newOrg(prisma);
    await subscribe(lapsed.id, "pdt_billing_pro", "on_hold", { updatedAt: new Date(Date.now() - 30 * 86_400_000) });
    expect(await billing.entitlements.check(lapsed.id, "member.add")).toMatchObject({
      allowed: false,
      reason: { code: "subscription_inactive" },
    });
    expect(await billing.entitlements.check(lapsed.id, "member.remove")).toMatchObject({ allowed: true });

    const grace = await newOrg(prisma);
    await subscribe(grace.id, "pdt_billing_pro", "on_hold");
    expect(await billing.entitlements.check(grace.id, "member.add")).toMatchObject({ allowed: true, reason: { code: "grace_period" } });

    const cancelledOver = await newOrg(prisma);
    await subscribe(cancelledOver.id, "pdt_billing_pro", "cancelled", { currentPeriodEnd: new Date(Date.now() - 1000) });
    expect(await billing.entitlements.check(cancelledOver.id, "feature.audit_log_export")).toMatchObject({
      allowed: false,
      plan: "free",
      reason: { code: "feature_not_in_plan" },
    });
  });

  it("a limit override in the database replaces the plan's limit until it expires", async () => {
    const org = await newOrg(prisma);
    await billing.usage.increment(org.id, "members", 5n, "member_added");
    expect(await billing.entitlements.check(org.id, "member.add")).toMatchObject({ allowed: false, reason: { code: "limit_exceeded" } });
    await prisma.limitOverride.create({
      data: {
        orgId: org.id,
        metric: "members",
        kind: "hard",
        value: 8n,
        note: "pilot",
        createdBy: "test",
        expiresAt: new Date(Date.now() + 3_600_000),
      },
    });
    expect(await billing.entitlements.check(org.id, "member.add")).toMatchObject({
      allowed: true,
      limit: 8n,
      limitOverridden: true,
      remaining: 3n,
    });
    await prisma.limitOverride.create({
      data: {
        orgId: org.id,
        metric: "members",
        kind: "unlimited",
        value: null,
        note: "expired",
        createdBy: "test",
        expiresAt: new Date(Date.now() - 1000),
      },
    });
    expect(await billing.entitlements.check(org.id, "member.add")).toMatchObject({ limit: 8n });
  });

  it("over limit after a downgrade: increments denied, decrements allowed", async () => {
    const org = await newOrg(prisma);
    const sub = await subscribe(org.id, "pdt_billing_pro");
    await billing.usage.increment(org.id, "members", 12n, "member_added");
    await prisma.subscription.update({ where: { id: sub.id }, data: { status: "expired" } });
    const denied = await billing.entitlements.consume(org.id, "member.add", { idempotencyKey: "after-downgrade" });
    expect(denied).toMatchObject({ allowed: false, reason: { code: "over_limit_after_downgrade" }, used: 12n, limit: 5n });
    const freed = await billing.entitlements.consume(org.id, "member.remove", { idempotencyKey: "remove-one" });
    expect(freed).toMatchObject({ allowed: true, used: 11n });
    const denials = await prisma.entitlementDenial.findMany({ where: { orgId: org.id } });
    expect(denials.map((d) => d.reasonCode)).toEqual(["over_limit_after_downgrade"]);
  });

  it("an unknown org is a normal denial, recorded", async () => {
    const orgId = "4c8f2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b";
    expect(await billing.entitlements.check(orgId, "member.add")).toMatchObject({ allowed: false, reason: { code: "org_not_found" } });
    const consumed = await billing.entitlements.consume(orgId, "member.add", { idempotencyKey: `x-${uniqueSuffix()}` });
    expect(consumed).toMatchObject({ allowed: false, reason: { code: "org_not_found" }, replayed: false });
  });

  it("file uploads need an amount; feature actions cannot be consumed", async () => {
    const org = await newOrg(prisma);
    await expect(billing.entitlements.check(org.id, "file.upload")).rejects.toMatchObject({
      code: "BAD_REQUEST",
      reason: "amount_required",
    });
    await expect(billing.entitlements.consume(org.id, "feature.sso", { idempotencyKey: "f" })).rejects.toMatchObject({
      reason: "not_metered",
    });
  });

  it("an in-process consume with metadata the metadata rule refuses is a typed BAD_REQUEST and writes nothing", async () => {
    const org = await newOrg(prisma);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const metadata of [{ n: 1n }, cyclic, { s: "a\u0000b" }]) {
      await expect(
        billing.entitlements.consume(org.id, "member.add", { idempotencyKey: `meta-${uniqueSuffix()}`, metadata }),
      ).rejects.toMatchObject({
        code: "BAD_REQUEST",
      });
    }
    expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(0);
    const ok = await billing.entitlements.consume(org.id, "member.add", {
      idempotencyKey: `meta-${uniqueSuffix()}`,
      metadata: { invite: "i-1" },
    });
    expect(ok.entry?.metadata).toEqual({ invite: "i-1" });
  });

  it("consume is idempotent: a repeat returns the original entry", async () => {
    const org = await newOrg(prisma);
    const first = await billing.entitlements.consume(org.id, "file.upload", { amount: 3n * 2n ** 31n, idempotencyKey: "upload-1" });
    expect(first).toMatchObject({ allowed: false, reason: { code: "limit_exceeded" } }); // free plan: 1 GiB
    const small = await billing.entitlements.consume(org.id, "file.upload", { amount: 1024n, idempotencyKey: "upload-2" });
    const again = await billing.entitlements.consume(org.id, "file.upload", { amount: 1024n, idempotencyKey: "upload-2" });
    expect(small.replayed).toBe(false);
    expect(again).toMatchObject({ allowed: true, replayed: true });
    expect(again.entry?.id).toBe(small.entry?.id);
    expect(await billing.usage.verify(org.id)).toEqual([]);
  });
});

// The same races on both ways `consume` runs its statements: through Prisma (a caller's
// client) and straight on the pg pool (what the server wires: `createBillingServices(prisma, { pool })`).
describe.each([
  { path: "through Prisma", withPool: false },
  { path: "on the pg pool (the server's path)", withPool: true },
])("consume under real concurrency, $path", ({ withPool }) => {
  /** Its own pool of `connections`, so that many consumes really run at once in the database. */
  async function withWideServices(connections: number, test: (services: BillingServices) => Promise<void>) {
    const wide = createDatabase(inject("databaseUrl"), { max: connections, applicationName: `vitest-consume-${connections}` });
    try {
      await test(createBillingServices(wide.prisma, withPool ? { pool: wide.pool } : {}));
    } finally {
      await wide.close();
    }
  }

  it("32 concurrent consumes at limit − 5: exactly 5 applied, 27 denied, no drift", () =>
    withWideServices(32, async (services) => {
      const org = await newOrg(prisma);
      await subscribe(org.id, "pdt_billing_pro"); // members: hard 25
      await services.usage.increment(org.id, "members", 20n, "member_added");
      const results = await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          services.entitlements.consume(org.id, "member.add", { idempotencyKey: `c-${i}`, actor: `worker-${i}` }),
        ),
      );
      expect(results.filter((r) => r.allowed)).toHaveLength(5);
      const denied = results.filter((r) => !r.allowed);
      expect(denied).toHaveLength(27);
      expect(denied.every((r) => r.reason?.code === "limit_exceeded")).toBe(true);
      const usage = await services.usage.getUsage(org.id);
      expect(usage.find((m) => m.metric === "members")?.count).toBe(25n);
      expect(await services.usage.verify(org.id)).toEqual([]);
      expect(await prisma.entitlementDenial.count({ where: { orgId: org.id } })).toBe(27);
      expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(6);
    }));

  // First use races through the cache row's creation. On an existing row, the row is held
  // until all 20 wait on it: each has then read "no entry with this key", so the 19 losers
  // meet the winner's key in the ledger's unique index and must answer as its replay.
  it.each([
    { when: "on the metric's first use", existingRow: false },
    { when: "all 20 queued on the existing cache row", existingRow: true },
  ])("the same idempotency key 20 times in parallel through consume → one ledger row, $when", ({ existingRow }) =>
    withWideServices(20, async (services) => {
      const org = await newOrg(prisma);
      const consumeAll = () =>
        Promise.all(Array.from({ length: 20 }, () => services.entitlements.consume(org.id, "api.call", { idempotencyKey: "same-call" })));
      let results: Awaited<ReturnType<typeof consumeAll>>;
      if (!existingRow) results = await consumeAll();
      else {
        await services.usage.increment(org.id, "api_calls", 1n, "api_call");
        const { queued } = await prisma.$transaction(
          async (tx) => {
            await tx.$queryRaw`SELECT 1 FROM usage_cache WHERE org_id = ${org.id}::uuid AND metric = 'api_calls' FOR UPDATE`;
            const queued = consumeAll();
            queued.catch(() => undefined); // awaited once the row is released
            await expect
              .poll(
                async () =>
                  (
                    await pool.query(
                      `SELECT 1 FROM pg_stat_activity WHERE application_name = 'vitest-consume-20' AND wait_event_type = 'Lock'`,
                    )
                  ).rowCount,
                {
                  timeout: 30_000,
                },
              )
              .toBe(20);
            return { queued };
          },
          { timeout: 60_000 },
        );
        results = await queued;
      }
      expect(results.every((r) => r.allowed)).toBe(true);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      expect(new Set(results.map((r) => r.entry?.id)).size).toBe(1);
      expect(await prisma.usageLedger.count({ where: { orgId: org.id, idempotencyKey: "same-call" } })).toBe(1);
      expect(await services.usage.verify(org.id)).toEqual([]);
    }),
  );
});

describe("consume from several OS processes, on the server's path", () => {
  it("4 processes race member.add and file.upload on two orgs near their hard limits: exactly the remaining capacity is applied", async () => {
    const MiB = 1024n ** 2n;
    const GiB = 1024n * MiB;
    const CHUNK = 64n * MiB;
    const pro = await newOrg(prisma);
    await subscribe(pro.id, "pdt_billing_pro"); // members: hard 25, storage: hard 100 GiB
    const free = await newOrg(prisma); // members: hard 5, storage: hard 1 GiB
    // Left: 6 seats and exactly 7 chunks on pro (the 7th lands ON the limit); 3 seats and
    // 4 chunks with 12 345 bytes to spare on free.
    const pairs = [
      { orgId: pro.id, metric: "members", action: "member.add", amount: 1n, start: 19n, limit: 25n },
      { orgId: pro.id, metric: "storage_bytes", action: "file.upload", amount: CHUNK, start: 100n * GiB - 7n * CHUNK, limit: 100n * GiB },
      { orgId: free.id, metric: "members", action: "member.add", amount: 1n, start: 2n, limit: 5n },
      { orgId: free.id, metric: "storage_bytes", action: "file.upload", amount: CHUNK, start: GiB - 4n * CHUNK - 12_345n, limit: GiB },
    ] as const;
    for (const p of pairs) await billing.usage.increment(p.orgId, p.metric, p.start, "test_setup");

    const config: UsageWorkerConfig = {
      seed: 0,
      ops: 64,
      mix: { consume: 1 },
      orgIds: [],
      consumeOnlyOrgIds: [pro.id, free.id],
      consumeActions: [{ action: "member.add" }, { action: "file.upload", amount: CHUNK.toString() }],
    };
    const reports = await runWorkerProcesses<UsageWorkerReport>(
      "test/workers/usage-worker.ts",
      Array.from({ length: 4 }, (_, i) => ({
        WORKER_DATABASE_URL: inject("databaseUrl"),
        WORKER_CONFIG: JSON.stringify({ ...config, seed: 7_000 + i }),
      })),
    );

    expect(reports.flatMap((r) => r.overLimit)).toEqual([]);
    expect(reports.reduce((n, r) => n + r.refused, 0)).toBe(0);
    const ledger = await prisma.usageLedger.findMany({ where: { orgId: { in: [pro.id, free.id] }, reason: { not: "test_setup" } } });
    expect(ledger.map((row) => row.id).sort()).toEqual(reports.flatMap((r) => r.appliedIds).sort());
    for (const p of pairs) {
      const label = `${p.orgId === pro.id ? "pro" : "free"} ${p.action}`;
      const tally = { allowed: 0, denied: 0 };
      for (const r of reports) {
        tally.allowed += r.consumes[`${p.orgId}|${p.action}`]?.allowed ?? 0;
        tally.denied += r.consumes[`${p.orgId}|${p.action}`]?.denied ?? 0;
      }
      const capacity = (p.limit - p.start) / p.amount;
      expect(tally.allowed, label).toBe(Number(capacity));
      expect(tally.denied, `${label}: more attempts than capacity`).toBeGreaterThan(0);
      expect(
        ledger.filter((row) => row.orgId === p.orgId && row.metric === p.metric),
        label,
      ).toHaveLength(Number(capacity));
      const cache = await prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId: p.orgId, metric: p.metric } } });
      expect(cache.count, label).toBe(p.start + capacity * p.amount);
      expect(cache.count <= p.limit, label).toBe(true);
      const denials = await prisma.entitlementDenial.findMany({ where: { orgId: p.orgId, metric: p.metric } });
      expect(denials, label).toHaveLength(tally.denied);
      expect(new Set(denials.map((d) => d.reasonCode)), label).toEqual(new Set(["limit_exceeded"]));
    }
    expect(await billing.usage.verify(pro.id)).toEqual([]);
    expect(await billing.usage.verify(free.id)).toEqual([]);
  }, 240_000);
});

describe("LimitOverrideService", () => {
  it("sets, honours and revokes an override; refuses bad ones", async () => {
    const org = await newOrg(prisma);
    const override = await billing.overrides.set({
      orgId: org.id,
      metric: "teams",
      kind: "soft",
      value: 50n,
      note: "migration pilot",
      createdBy: "staff:ana",
    });
    expect(await billing.entitlements.check(org.id, "team.create")).toMatchObject({ limit: 50n, limitKind: "soft", limitOverridden: true });
    await billing.overrides.revoke(override.id);
    expect(await billing.entitlements.check(org.id, "team.create")).toMatchObject({ limit: 2n, limitOverridden: false });
    expect(await billing.overrides.list(org.id)).toHaveLength(1);
    for (const bad of [
      { kind: "unlimited", value: 5n },
      { kind: "hard" },
      { kind: "hard", value: -1n },
      { kind: "hard", value: 1n, expiresAt: new Date(Date.now() - 1000) },
      { kind: "hard", value: 1n, note: "" },
    ] as const) {
      await expect(
        billing.overrides.set({ orgId: org.id, metric: "teams", note: "because", createdBy: "staff:ana", ...bad }),
      ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    }
    await expect(
      billing.overrides.set({
        orgId: "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
        metric: "teams",
        kind: "hard",
        value: 1n,
        note: "nobody",
        createdBy: "x",
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
