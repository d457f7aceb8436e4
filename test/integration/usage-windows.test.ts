import { describe, expect, it } from "vitest";

import { createCaller } from "@/server/api/root";
import { createTRPCContext } from "@/server/api/trpc";
import { createBillingServices } from "@/server/billing";
import { ApiKeyService } from "@/server/billing/api-keys";
import { METRICS } from "@/server/billing/catalogue";

import { newOrg, testDatabase, uniqueSuffix, unlimitedOverride } from "../helpers/db";

/**
 * Usage windows reset lazily (invariant 10 in ARCHITECTURE.md): the first write in a new window writes the reset
 * row in its own statement; reads answer from the new window without writing. The clock is
 * injected and moved, never slept on.
 */
const { prisma, pool } = testDatabase();

/** Services whose clock a test sets (`at.now = …`), on the pool path the server uses. */
function servicesAt(start: string) {
  const at = { now: new Date(start) };
  return { at, services: createBillingServices(prisma, { pool, clock: () => at.now }) };
}

const key = () => `win-${uniqueSuffix()}`;

async function ledger(orgId: string, metric: string) {
  return prisma.usageLedger.findMany({ where: { orgId, metric }, orderBy: [{ timestamp: "asc" }, { delta: "asc" }] });
}

async function cacheRow(orgId: string, metric: string) {
  return prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId, metric } } });
}

describe("a free org's api_calls at the month boundary", () => {
  it("is denied at its limit in November and allowed again on December 1st, with one reset row written by the first write", async () => {
    const { at, services } = servicesAt("2026-11-30T23:59:59.000Z");
    const org = await newOrg(prisma);
    await unlimitedOverride(prisma, org.id, "api_calls_hourly");
    await services.usage.increment(org.id, "api_calls", 10_000n, "api_call");
    expect(await services.entitlements.consume(org.id, "api.call", { idempotencyKey: key() })).toMatchObject({
      allowed: false,
      used: 10_000n,
      reason: { code: "limit_exceeded" },
      windowStart: new Date("2026-11-01T00:00:00Z"),
      windowEnd: new Date("2026-12-01T00:00:00Z"),
    });

    at.now = new Date("2026-12-01T00:00:00.000Z");
    // A check in the new window answers from it and writes nothing.
    const rowsBefore = await ledger(org.id, "api_calls");
    expect(await services.entitlements.check(org.id, "api.call")).toMatchObject({
      allowed: true,
      used: 0n,
      remaining: 10_000n,
      windowStart: new Date("2026-12-01T00:00:00Z"),
      windowEnd: new Date("2027-01-01T00:00:00Z"),
    });
    const summary = await services.entitlements.usageSummary(org.id);
    expect(summary.metrics.find((m) => m.metric === "api_calls")).toMatchObject({
      count: 0n,
      windowStart: new Date("2026-12-01T00:00:00Z"),
      windowEnd: new Date("2027-01-01T00:00:00Z"),
    });
    expect(summary.metrics.find((m) => m.metric === "members")).toMatchObject({ windowStart: null, windowEnd: null });
    expect(await ledger(org.id, "api_calls")).toEqual(rowsBefore);
    expect((await cacheRow(org.id, "api_calls")).count).toBe(10_000n);

    const consumed = await services.entitlements.consume(org.id, "api.call", { idempotencyKey: key() });
    expect(consumed).toMatchObject({ allowed: true, used: 1n, remaining: 9_999n, windowStart: new Date("2026-12-01T00:00:00Z") });
    const rows = await ledger(org.id, "api_calls");
    expect(rows.map((r) => [r.reason, r.delta])).toEqual([
      ["api_call", 10_000n],
      ["window_reset", -10_000n],
      ["api_call", 1n],
    ]);
    expect(rows[1]).toMatchObject({
      idempotencyKey: "window_reset:api_calls:2026-12-01T00:00:00.000Z",
      actor: "system",
      timestamp: at.now,
      metadata: { windowStart: "2026-12-01T00:00:00.000Z" },
    });
    expect(await cacheRow(org.id, "api_calls")).toMatchObject({ count: 1n, windowStart: new Date("2026-12-01T00:00:00Z") });
    expect(await services.usage.verify(org.id)).toEqual([]);

    // Later writes in the same window add no second reset.
    await services.usage.increment(org.id, "api_calls", 2n, "api_call");
    expect((await ledger(org.id, "api_calls")).filter((r) => r.reason === "window_reset")).toHaveLength(1);
    expect((await cacheRow(org.id, "api_calls")).count).toBe(3n);
  });

  it("a gauge has no window: its row never gets one and its answer carries none", async () => {
    const { services } = servicesAt("2026-12-02T10:00:00.000Z");
    const org = await newOrg(prisma);
    await services.usage.increment(org.id, "members", 2n, "member_added");
    const decision = await services.entitlements.consume(org.id, "member.add", { idempotencyKey: key() });
    expect(decision).toMatchObject({ allowed: true, used: 3n });
    expect(decision).not.toHaveProperty("windowStart");
    expect((await cacheRow(org.id, "members")).windowStart).toBeNull();
  });
});

describe("a writer whose clock read the old window after the row moved on", () => {
  it("counts, and is capped, in the row's newer window: nothing resets backwards", async () => {
    const boundary = new Date("2026-12-02T15:00:00.000Z");
    const { at, services } = servicesAt("2026-12-02T14:50:00.000Z");
    const org = await newOrg(prisma);
    for (let i = 0; i < 9; i++) await services.entitlements.consume(org.id, "export.create", { idempotencyKey: key() }); // free: 10 an hour

    at.now = new Date(boundary.getTime() + 5);
    expect(await services.entitlements.consume(org.id, "export.create", { idempotencyKey: key() })).toMatchObject({ used: 1n });
    // This one read its clock just before the boundary and reaches the row after the move.
    at.now = new Date(boundary.getTime() - 1);
    const late = await services.entitlements.consume(org.id, "export.create", { idempotencyKey: key() });
    expect(late).toMatchObject({
      allowed: true,
      used: 2n,
      windowStart: boundary,
      windowEnd: new Date("2026-12-02T16:00:00.000Z"),
    });
    expect(await cacheRow(org.id, "exports")).toMatchObject({ count: 2n, windowStart: boundary });
    expect((await ledger(org.id, "exports")).filter((r) => r.reason === "window_reset").map((r) => r.delta)).toEqual([-9n]);
    // A check from before the boundary sees the row's window too.
    expect(await services.entitlements.check(org.id, "export.create")).toMatchObject({ used: 2n, windowStart: boundary });
    expect(await services.usage.verify(org.id)).toEqual([]);
  });
});

describe("a row written before windows existed (window_start NULL)", () => {
  it("reads as the usage since the window began, and its first write keeps exactly that", async () => {
    const { services } = servicesAt("2026-12-02T10:00:00.000Z");
    const org = await newOrg(prisma);
    await unlimitedOverride(prisma, org.id, "api_calls_hourly");
    // Lifetime history as the old code left it: usage, a renewal's monthly_reset, usage since December 1st.
    const history: [bigint, string, string][] = [
      [500n, "api_call", "2026-10-10T12:00:00Z"],
      [-200n, "monthly_reset", "2026-11-01T00:00:00Z"],
      [30n, "api_call", "2026-12-01T05:00:00Z"],
    ];
    for (const [delta, reason, timestamp] of history) {
      await prisma.usageLedger.create({
        data: { orgId: org.id, metric: "api_calls", delta, reason, actor: "legacy", timestamp: new Date(timestamp) },
      });
    }
    await prisma.usageCache.create({
      data: { orgId: org.id, metric: "api_calls", count: 330n, lastUpdated: new Date("2026-12-01T05:00:00Z") },
    });

    expect(await services.entitlements.check(org.id, "api.call")).toMatchObject({
      used: 30n,
      windowStart: new Date("2026-12-01T00:00:00Z"),
    });
    expect((await services.entitlements.usageSummary(org.id)).metrics.find((m) => m.metric === "api_calls")?.count).toBe(30n);
    expect(await ledger(org.id, "api_calls")).toHaveLength(3);

    expect(await services.entitlements.consume(org.id, "api.call", { idempotencyKey: key() })).toMatchObject({ allowed: true, used: 31n });
    expect((await ledger(org.id, "api_calls")).filter((r) => r.reason === "window_reset").map((r) => r.delta)).toEqual([-300n]);
    expect(await cacheRow(org.id, "api_calls")).toMatchObject({ count: 31n, windowStart: new Date("2026-12-01T00:00:00Z") });
    expect(await services.usage.verify(org.id)).toEqual([]);
  });

  it("last changed before the window began: reads 0 without the ledger; the first write removes it all", async () => {
    const { services } = servicesAt("2026-12-02T10:00:00.000Z");
    const org = await newOrg(prisma);
    await prisma.usageLedger.create({
      data: {
        orgId: org.id,
        metric: "api_calls",
        delta: 10_000n,
        reason: "api_call",
        actor: "legacy",
        timestamp: new Date("2025-03-01T00:00:00Z"),
      },
    });
    await prisma.usageCache.create({
      data: { orgId: org.id, metric: "api_calls", count: 10_000n, lastUpdated: new Date("2025-03-01T00:00:00Z") },
    });
    expect(await services.entitlements.check(org.id, "api.call")).toMatchObject({ allowed: true, used: 0n });
    const [applied] = await services.usage.incrementMany([{ orgId: org.id, metric: "api_calls", amount: 4n, reason: "api_call" }]);
    expect(applied?.status).toBe("applied");
    expect((await ledger(org.id, "api_calls")).map((r) => r.delta)).toEqual([10_000n, -10_000n, 4n]);
    expect((await cacheRow(org.id, "api_calls")).count).toBe(4n);
  });
});

describe("incrementMany across a day boundary", () => {
  it("resets each period counter once under the batch's locks; gauges and counters in their window are untouched", async () => {
    const { at, services } = servicesAt("2026-12-02T23:59:59.999Z");
    const [free, pro] = [await newOrg(prisma), await newOrg(prisma)];
    const now = Date.now();
    // A paid org's api_calls count in its billing period, which does not end at midnight.
    await prisma.subscription.create({
      data: {
        id: `sub_${uniqueSuffix()}`,
        orgId: pro.id,
        productId: "pdt_billing_pro",
        status: "active",
        currentPeriodStart: new Date("2026-11-20T08:00:00Z"),
        currentPeriodEnd: new Date("2026-12-20T08:00:00Z"),
        updatedAt: new Date(now),
      },
    });
    const batch = () => [
      ...[free, pro].flatMap((org) => [
        { orgId: org.id, metric: "ai_requests", amount: 1n, reason: "ai_request" },
        { orgId: org.id, metric: "ai_requests", amount: 2n, reason: "ai_request" },
        { orgId: org.id, metric: "api_calls", amount: 5n, reason: "api_call" },
      ]),
      { orgId: free.id, metric: "members", amount: 1n, reason: "member_added" },
    ];
    expect((await services.usage.incrementMany(batch())).every((r) => r.status === "applied")).toBe(true);

    at.now = new Date("2026-12-03T00:00:00.000Z");
    expect((await services.usage.incrementMany(batch())).every((r) => r.status === "applied")).toBe(true);
    for (const org of [free, pro]) {
      expect(await cacheRow(org.id, "ai_requests")).toMatchObject({ count: 3n, windowStart: new Date("2026-12-03T00:00:00Z") });
      const resets = (await ledger(org.id, "ai_requests")).filter((r) => r.reason === "window_reset");
      expect(resets.map((r) => [r.delta, r.idempotencyKey, r.timestamp])).toEqual([
        [-3n, "window_reset:ai_requests:2026-12-03T00:00:00.000Z", at.now],
      ]);
      expect(await services.usage.verify(org.id)).toEqual([]);
    }
    // December 1st's calendar month for the free org, the billing period for the paid one: no reset at midnight.
    expect(await cacheRow(free.id, "api_calls")).toMatchObject({ count: 10n, windowStart: new Date("2026-12-01T00:00:00Z") });
    expect(await cacheRow(pro.id, "api_calls")).toMatchObject({ count: 10n, windowStart: new Date("2026-11-20T08:00:00Z") });
    expect(await cacheRow(free.id, "members")).toMatchObject({ count: 2n, windowStart: null });

    // The same batch again in the same window: no second reset.
    await services.usage.incrementMany(batch());
    expect((await ledger(free.id, "ai_requests")).filter((r) => r.reason === "window_reset")).toHaveLength(1);
    expect((await cacheRow(free.id, "ai_requests")).count).toBe(6n);
  });
});

describe("the catalogue's windowed metrics over the product API", () => {
  it("ai.request is consumed until the day's 50 are used, check and usage.get show the window, and the next day starts at 0", async () => {
    const { at, services } = servicesAt("2026-12-02T18:30:00.000Z");
    const { secret } = await new ApiKeyService(prisma).create({
      name: "windows",
      scopes: ["usage:read", "usage:write", "entitlements:read"],
      createdBy: "vitest",
    });
    const context = await createTRPCContext({
      headers: new Headers({ authorization: `Bearer ${secret}` }),
      db: () => prisma,
      billing: () => services,
    });
    const api = createCaller(context).billing;
    const org = await newOrg(prisma);
    const day = { windowStart: new Date("2026-12-02T00:00:00Z"), windowEnd: new Date("2026-12-03T00:00:00Z") };

    const allowed = [];
    for (let i = 0; i < 50; i++)
      allowed.push(await api.entitlements.consume({ orgId: org.id, action: "ai.request", idempotencyKey: key() }));
    expect(allowed.every((d) => d.allowed)).toBe(true);
    expect(allowed.at(-1)).toMatchObject({ metric: "ai_requests", used: 50n, remaining: 0n, limit: 50n, limitKind: "hard", ...day });
    expect(await api.entitlements.consume({ orgId: org.id, action: "ai.request", idempotencyKey: key() })).toMatchObject({
      allowed: false,
      reason: { code: "limit_exceeded" },
      used: 50n,
      ...day,
    });
    expect(await api.entitlements.check({ orgId: org.id, action: "ai.request" })).toMatchObject({ allowed: false, ...day });
    const exportsOk = await api.entitlements.consume({ orgId: org.id, action: "export.create", idempotencyKey: key() });
    expect(exportsOk).toMatchObject({
      allowed: true,
      used: 1n,
      limit: 10n,
      windowStart: new Date("2026-12-02T18:00:00Z"),
      windowEnd: new Date("2026-12-02T19:00:00Z"),
    });
    const usage = await api.usage.get({ orgId: org.id });
    expect(usage.metrics.map((m) => m.metric)).toEqual(METRICS);
    expect(usage.metrics.find((m) => m.metric === "ai_requests")).toMatchObject({ count: 50n, limit: 50n, remaining: 0n, ...day });

    at.now = new Date("2026-12-03T00:00:00.000Z");
    expect(await api.entitlements.check({ orgId: org.id, action: "ai.request" })).toMatchObject({
      allowed: true,
      used: 0n,
      windowStart: new Date("2026-12-03T00:00:00Z"),
      windowEnd: new Date("2026-12-04T00:00:00Z"),
    });
    expect(await api.entitlements.consume({ orgId: org.id, action: "ai.request", idempotencyKey: key() })).toMatchObject({
      allowed: true,
      used: 1n,
    });
    expect(await services.usage.verify(org.id)).toEqual([]);
  });
});
