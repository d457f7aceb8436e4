import { describe, expect, it } from "vitest";

import { createBillingClient } from "@/client";

import { billingClient, errorData } from "../helpers/billing-client";
import { newOrg, newSubscription, testDatabase } from "../helpers/db";
import { routeServerForFile } from "../helpers/route-server";

/**
 * The product app's view: the typed client (`createBillingClient`) over real HTTP to the
 * app's real tRPC route (`src/app/api/trpc/[trpc]/route.ts`), which runs on the process-wide
 * database like the server does.
 */
const { prisma } = testDatabase();
const server = await routeServerForFile();

const UNKNOWN_ORG = "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d";

describe("billing API over HTTP through the real route", () => {
  it("answers with a key, BigInt intact, and the error contract's codes without one", async () => {
    const { client } = await billingClient(prisma, server);
    const org = await newOrg(prisma);
    const big = 3n * 2n ** 31n;
    const result = await client.billing.usage.increment.mutate({
      orgId: org.id,
      metric: "storage_bytes",
      amount: big,
      reason: "file_upload",
    });
    expect(result.count).toBe(big);
    const [check, usage] = await Promise.all([
      client.billing.entitlements.check.query({ orgId: org.id, action: "feature.sso" }),
      client.billing.usage.get.query({ orgId: org.id }),
    ]);
    expect(check).toMatchObject({ allowed: false, reason: { code: "feature_not_in_plan" } });
    expect(usage.metrics.find((m) => m.metric === "storage_bytes")?.count).toBe(big);

    const anonymous = createBillingClient({ url: `${server.origin}/api/trpc`, apiKey: "bk_00000000_nope" });
    expect(await errorData(anonymous.billing.usage.get.query({ orgId: org.id }))).toMatchObject({ code: "UNAUTHORIZED", httpStatus: 401 });
    expect(await errorData(client.billing.usage.get.query({ orgId: "bad" }))).toMatchObject({
      code: "BAD_REQUEST",
      httpStatus: 400,
      zodIssues: [{ path: ["orgId"] }],
    });
    expect(await errorData(client.billing.usage.get.query({ orgId: UNKNOWN_ORG }))).toMatchObject({
      code: "NOT_FOUND",
      httpStatus: 404,
      reason: "org_not_found",
    });
  });

  it("carries 64-bit counts exactly: 2^62+1, then up to 2^63-1, in the answers, usage.get and the ledger", async () => {
    const { client } = await billingClient(prisma, server);
    const org = await newOrg(prisma);
    const first = 2n ** 62n + 1n;
    const second = 2n ** 62n - 2n; // first + second = 2^63 - 1, the largest int64
    const storage = async () =>
      (await client.billing.usage.get.query({ orgId: org.id })).metrics.find((m) => m.metric === "storage_bytes")?.count;

    const one = await client.billing.usage.increment.mutate({
      orgId: org.id,
      metric: "storage_bytes",
      amount: first,
      reason: "file_upload",
    });
    expect(one.count).toBe(first);
    expect(one.entry.delta).toBe(first);
    expect(await storage()).toBe(first);

    const two = await client.billing.usage.increment.mutate({
      orgId: org.id,
      metric: "storage_bytes",
      amount: second,
      reason: "file_upload",
    });
    expect(two.count).toBe(2n ** 63n - 1n);
    expect(two.entry.delta).toBe(second);
    expect(await storage()).toBe(2n ** 63n - 1n);

    const ledger = await prisma.usageLedger.findMany({ where: { orgId: org.id }, orderBy: { timestamp: "asc" }, select: { delta: true } });
    expect(ledger.map((r) => r.delta)).toEqual([first, second]);
    const cache = await prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId: org.id, metric: "storage_bytes" } } });
    expect(cache.count).toBe(2n ** 63n - 1n);
  });

  // As 32 requests at once, and as one batched request of 32 calls (tRPC runs a batch's calls
  // concurrently: in one process this overlaps them most, as the server's CPU is the bottleneck).
  it.each([
    { batch: false, how: "32 requests" },
    { batch: true, how: "one batched request" },
  ])("32 concurrent consumes over HTTP ($how) with 3 seats left: exactly 3 allowed, 29 limit_exceeded, no overshoot", async ({ batch }) => {
    const { client } = await billingClient(prisma, server, undefined, { batch });
    const org = await newOrg(prisma);
    const limit = 5n; // the free plan's members
    const left = 3;
    await client.billing.usage.increment.mutate({ orgId: org.id, metric: "members", amount: limit - BigInt(left), reason: "member_added" });

    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        client.billing.entitlements.consume.mutate({ orgId: org.id, action: "member.add", idempotencyKey: `seat-${i}` }),
      ),
    );
    const allowed = results.filter((r) => r.allowed);
    const denied = results.filter((r) => !r.allowed);
    expect(allowed).toHaveLength(left);
    expect(denied.map((r) => r.reason?.code)).toEqual(Array<string>(32 - left).fill("limit_exceeded"));
    expect(allowed.every((r) => r.entry?.delta === 1n && !r.replayed)).toBe(true);

    const sum = await prisma.usageLedger.aggregate({ where: { orgId: org.id, metric: "members" }, _sum: { delta: true } });
    const cache = await prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId: org.id, metric: "members" } } });
    expect(cache.count).toBe(limit);
    expect(sum._sum.delta).toBe(limit);
    expect(await prisma.entitlementDenial.count({ where: { orgId: org.id } })).toBe(32 - left);
  });

  it("entitlements.snapshot: one call with what usage.get and check answer; the error contract's codes", async () => {
    const { client } = await billingClient(prisma, server);
    const org = await newOrg(prisma);
    await newSubscription(prisma, org.id, { productId: "pdt_billing_business", status: "past_due", updatedAt: new Date() });
    await client.billing.usage.increment.mutate({ orgId: org.id, metric: "members", amount: 4n, reason: "member_added" });
    await client.billing.entitlements.consume.mutate({ orgId: org.id, action: "ai.request", amount: 2n, idempotencyKey: `ai-${org.id}` });

    const snapshot = await client.billing.entitlements.snapshot.query({ orgId: org.id });
    const [usage, members, sso, priority] = await Promise.all([
      client.billing.usage.get.query({ orgId: org.id }),
      client.billing.entitlements.check.query({ orgId: org.id, action: "member.add" }),
      client.billing.entitlements.check.query({ orgId: org.id, action: "feature.sso" }),
      client.billing.entitlements.check.query({ orgId: org.id, action: "feature.priority_support" }),
    ]);
    expect(snapshot).toMatchObject({ orgId: org.id, plan: "business", subscriptionStatus: "past_due" });
    expect(snapshot.graceEndsAt).toBeInstanceOf(Date);
    expect(snapshot.asOf).toBeInstanceOf(Date);
    expect(snapshot.metrics.map(({ metric, used, limit, remaining }) => ({ metric, count: used, limit, remaining }))).toEqual(
      usage.metrics.map(({ metric, count, limit, remaining }) => ({ metric, count, limit, remaining })),
    );
    expect(snapshot.metrics.find((m) => m.metric === "members")).toMatchObject({
      used: members.used,
      limit: members.limit,
      remaining: members.remaining,
      limitKind: members.limitKind,
    });
    expect(snapshot.metrics.find((m) => m.metric === "ai_requests")).toMatchObject({ used: 2n, windowStart: expect.any(Date) });
    expect(snapshot.features.find((f) => f.feature === "sso")).toEqual({ feature: "sso", enabled: sso.allowed });
    expect(snapshot.features.find((f) => f.feature === "priority_support")).toEqual({
      feature: "priority_support",
      enabled: priority.allowed,
    });
    expect([sso.allowed, priority.allowed]).toEqual([true, false]);

    expect(await errorData(client.billing.entitlements.snapshot.query({ orgId: "bad" }))).toMatchObject({
      code: "BAD_REQUEST",
      httpStatus: 400,
      zodIssues: [{ path: ["orgId"] }],
    });
    expect(await errorData(client.billing.entitlements.snapshot.query({ orgId: UNKNOWN_ORG }))).toMatchObject({
      code: "NOT_FOUND",
      httpStatus: 404,
      reason: "org_not_found",
    });
    const { client: usageOnly } = await billingClient(prisma, server, ["usage:read", "usage:write"]);
    expect(await errorData(usageOnly.billing.entitlements.snapshot.query({ orgId: org.id }))).toMatchObject({
      code: "FORBIDDEN",
      httpStatus: 403,
      reason: "scope_missing",
    });
  });
});
