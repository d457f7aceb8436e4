import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { adjustUsage } from "@/server/billing/adjustments";
import { listDenials } from "@/server/billing/denials";
import { METRICS } from "@/server/billing/metrics";
import { nearLimitCounts } from "@/server/billing/near-limit";
import { getOrganizationDetail, usageSeries } from "@/server/billing/org-insights";
import { listOrganizations } from "@/server/billing/organizations";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const DAY = 86_400_000;

/** A ledger row at a chosen time, with its cache change in the same transaction (invariant 1). */
async function entryAt(orgId: string, metric: string, delta: bigint, at: Date) {
  await prisma.$transaction(async (tx) => {
    await tx.$executeRaw`
      INSERT INTO usage_ledger (org_id, metric, delta, reason, actor, timestamp)
      VALUES (${orgId}::uuid, ${metric}, ${delta}::bigint, 'migration', 'vitest', ${at})`;
    await tx.$executeRaw`
      INSERT INTO usage_cache (org_id, metric, count) VALUES (${orgId}::uuid, ${metric}, 0) ON CONFLICT (org_id, metric) DO NOTHING`;
    await tx.$executeRaw`UPDATE usage_cache SET count = count + ${delta}::bigint WHERE org_id = ${orgId}::uuid AND metric = ${metric}`;
  });
}

describe("usage series (chart)", () => {
  it("gives daily UTC running totals per metric, counting what came before the window", async () => {
    const org = await newOrg(prisma);
    const now = new Date("2026-06-30T15:00:00Z");
    await entryAt(org.id, "members", 4n, new Date("2025-01-01T00:00:00Z")); // before the window
    await entryAt(org.id, "members", 2n, new Date("2026-06-01T23:59:59.999Z"));
    await entryAt(org.id, "members", -1n, new Date("2026-06-02T00:00:00Z"));
    await entryAt(org.id, "members", 3n, new Date("2026-06-30T10:00:00Z"));
    await entryAt(org.id, "storage_bytes", 5n * 2n ** 31n, new Date("2026-06-10T12:00:00Z"));

    const series = await usageSeries(prisma, org.id, { now, days: 90 });
    expect(series.map((s) => s.metric)).toEqual(METRICS);
    const members = series.find((s) => s.metric === "members")?.points ?? [];
    expect(members).toHaveLength(90);
    expect(members[0]?.day).toBe(new Date(Date.UTC(2026, 5, 30) - 89 * DAY).toISOString().slice(0, 10));
    expect(members.at(-1)?.day).toBe("2026-06-30");
    const at = (day: string) => members.find((p) => p.day === day)?.count;
    expect(members[0]?.count).toBe(4n);
    expect(at("2026-05-31")).toBe(4n);
    expect(at("2026-06-01")).toBe(6n);
    expect(at("2026-06-02")).toBe(5n);
    expect(at("2026-06-29")).toBe(5n);
    expect(at("2026-06-30")).toBe(8n);
    const storage = series.find((s) => s.metric === "storage_bytes")?.points ?? [];
    expect(storage.find((p) => p.day === "2026-06-09")?.count).toBe(0n);
    expect(storage.at(-1)?.count).toBe(5n * 2n ** 31n); // 64-bit exact
    expect(series.find((s) => s.metric === "teams")?.points.every((p) => p.count === 0n)).toBe(true);

    // The last point equals the cache (invariant 1) when nothing is in the future.
    const live = await usageSeries(prisma, org.id);
    const cache = await prisma.usageCache.findUnique({ where: { orgId_metric: { orgId: org.id, metric: "members" } } });
    expect(live.find((s) => s.metric === "members")?.points.at(-1)?.count).toBe(cache?.count);
  });
});

describe("denials", () => {
  it("lists an org's denials newest first, with the org name, limited", async () => {
    const org = await newOrg(prisma);
    const other = await newOrg(prisma);
    await billing.usage.increment(org.id, "members", 5n, "migration"); // free plan: hard 5
    for (let i = 0; i < 3; i++) {
      const r = await billing.entitlements.consume(org.id, "member.add", { idempotencyKey: `deny-${i}-${randomUUID()}` });
      expect(r.allowed).toBe(false);
    }
    await billing.usage.increment(other.id, "teams", 2n, "migration");
    await billing.entitlements.consume(other.id, "team.create", { idempotencyKey: randomUUID() });

    const mine = await listDenials(prisma, { orgId: org.id });
    expect(mine).toHaveLength(3);
    expect(mine.every((d) => d.orgId === org.id && d.orgName === org.name && d.reasonCode === "limit_exceeded")).toBe(true);
    const times = mine.map((d) => d.createdAt.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(await listDenials(prisma, { orgId: org.id, limit: 2 })).toHaveLength(2);

    const all = await listDenials(prisma, { limit: 200 });
    expect(all.some((d) => d.orgId === other.id && d.metric === "teams")).toBe(true);
  });
});

describe("organization detail and manual adjustment", () => {
  it("adjusts through increment with the actor and an audit row; a double submit applies once", async () => {
    const org = await newOrg(prisma);
    const key = randomUUID();
    const input = { orgId: org.id, metric: "members" as const, amount: 2n, note: "customer added two seats by phone", idempotencyKey: key };
    const first = await prisma.$transaction((tx) => adjustUsage(tx, billing.usage, input, "staff:admin@test"));
    const again = await prisma.$transaction((tx) => adjustUsage(tx, billing.usage, input, "staff:admin@test"));
    expect(first).toMatchObject({ count: 2n, replayed: false });
    expect(first.entry).toMatchObject({
      reason: "manual_adjustment",
      actor: "staff:admin@test",
      delta: 2n,
      metadata: { note: input.note },
    });
    expect(again).toMatchObject({ replayed: true, count: 2n });
    expect(again.entry.id).toBe(first.entry.id);
    const audits = await prisma.auditLog.findMany({ where: { targetType: "organization", targetId: org.id } });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actor: "staff:admin@test", action: "usage.adjust", before: { count: "0" }, after: { count: "2" } });

    // Below zero: a typed CONFLICT, and nothing written (no ledger row, no audit row).
    await expect(
      prisma.$transaction((tx) =>
        adjustUsage(tx, billing.usage, { ...input, amount: -5n, idempotencyKey: randomUUID() }, "staff:admin@test"),
      ),
    ).rejects.toMatchObject({ code: "CONFLICT", reason: "gauge_below_zero" });
    expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(1);
    expect(await prisma.auditLog.count({ where: { targetType: "organization", targetId: org.id } })).toBe(1);

    await billing.overrides.set({
      orgId: org.id,
      metric: "members",
      kind: "hard",
      value: 40n,
      note: "pilot",
      createdBy: "staff:admin@test",
    });
    const detail = await getOrganizationDetail(prisma, billing.entitlements, org.id);
    expect(detail.org).toMatchObject({ id: org.id, name: org.name });
    expect(detail.plan.id).toBe("free");
    expect(detail.subscription).toBeNull();
    const members = detail.usage.metrics.find((m) => m.metric === "members");
    expect(members).toMatchObject({ count: 2n, limit: 40n, limitKind: "hard", limitOverridden: true, remaining: 38n });
    expect(detail.overrides.map((o) => o.note)).toEqual(["pilot"]);
    expect(detail.series.find((s) => s.metric === "members")?.points.at(-1)?.count).toBe(2n);

    await expect(getOrganizationDetail(prisma, billing.entitlements, randomUUID())).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("near-limit query and sort", () => {
  it("finds orgs at ≥ 80 % / ≥ 100 % of any limit under the policy's plan and overrides", async () => {
    const tag = `near-${uniqueSuffix()}`;
    const make = async (name: string, members: bigint, storage = 0n) => {
      const org = await newOrg(prisma, { name: `${tag} ${name}` });
      if (members) await billing.usage.increment(org.id, "members", members, "migration");
      if (storage) await billing.usage.increment(org.id, "storage_bytes", storage, "migration");
      return org;
    };
    const subscribe = (orgId: string, status: string) =>
      prisma.subscription.create({ data: { id: `sub_${uniqueSuffix()}`, orgId, productId: "pdt_billing_pro", status } });

    const free80 = await make("a free 4 of 5", 4n); // free plan: members hard 5
    const free100 = await make("b free 5 of 5", 5n);
    const proOk = await make("c pro 4 of 25", 4n, 10n);
    await subscribe(proOk.id, "active");
    const lapsed = await make("d expired pro 4 of 5", 4n); // expired → free plan
    await subscribe(lapsed.id, "expired");
    const overLowered = await make("e override 2 of 1", 2n);
    await billing.overrides.set({
      orgId: overLowered.id,
      metric: "members",
      kind: "hard",
      value: 1n,
      note: "lowered",
      createdBy: "vitest",
    });
    const unlimited = await make("f unlimited override", 5n);
    await billing.overrides.set({ orgId: unlimited.id, metric: "members", kind: "unlimited", note: "no cap", createdBy: "vitest" });
    const expiredOverride = await make("g expired override", 3n);
    await billing.overrides.set({
      orgId: expiredOverride.id,
      metric: "members",
      kind: "hard",
      value: 3n,
      note: "old",
      createdBy: "vitest",
      expiresAt: new Date(Date.now() + 60_000),
    });
    const storageFull = await make("h storage full", 0n, 2n ** 30n); // free: storage hard 1 GiB

    const names = async (near?: 80 | 100, now?: Date) =>
      (await listOrganizations(prisma, { search: tag, page: 1, pageSize: 50, near, now })).items.map((o) => o.id);
    expect(await names(80)).toEqual([free80.id, free100.id, lapsed.id, overLowered.id, expiredOverride.id, storageFull.id]);
    expect(await names(100)).toEqual([free100.id, overLowered.id, expiredOverride.id, storageFull.id]);
    // Two minutes on, the override on "g" has expired: back to the free plan's 5 → 60 %.
    expect(await names(80, new Date(Date.now() + 120_000))).not.toContain(expiredOverride.id);
    expect(await names()).toHaveLength(8);

    const counts = await nearLimitCounts(prisma);
    expect(counts.atLeast80).toBeGreaterThanOrEqual(6);
    expect(counts.atLeast100).toBeGreaterThanOrEqual(4);
    expect(counts.atLeast80).toBeGreaterThanOrEqual(counts.atLeast100);

    // Sort: most members first (no cache row last), then most storage first; ties by name.
    const sorted = async (sort: "members" | "storage_bytes") =>
      (await listOrganizations(prisma, { search: tag, page: 1, pageSize: 50, sort })).items.map((o) => o.id);
    expect(await sorted("members")).toEqual([
      free100.id,
      unlimited.id,
      free80.id,
      proOk.id,
      lapsed.id,
      expiredOverride.id,
      overLowered.id,
      storageFull.id,
    ]);
    expect((await sorted("storage_bytes")).slice(0, 2)).toEqual([storageFull.id, proOk.id]);

    // Each row carries the limits the policy applies: overrides and the free plan included.
    const rows = new Map((await listOrganizations(prisma, { search: tag, page: 1, pageSize: 50 })).items.map((o) => [o.id, o]));
    expect(rows.get(overLowered.id)?.limits.members).toEqual({ limit: 1n, limitKind: "hard" });
    expect(rows.get(unlimited.id)?.limits.members).toEqual({ limit: null, limitKind: "unlimited" });
    expect(rows.get(free80.id)?.limits.members).toEqual({ limit: 5n, limitKind: "hard" });
    expect(rows.get(storageFull.id)?.limits.storage_bytes).toEqual({ limit: 2n ** 30n, limitKind: "hard" });
  });
});
