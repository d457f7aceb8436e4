import { describe, expect, it } from "vitest";

import { createBillingServices, type BillingServices } from "@/server/billing";
import { METERED_ACTIONS, type ActionName } from "@/server/billing/actions";
import { FEATURES, METRICS, type Metric } from "@/server/billing/catalogue";
import type { EntitlementSnapshot } from "@/server/billing/entitlement-service";
import { GRACE_PERIOD_DAYS } from "@/server/billing/policy";
import { readPolicyContextSnapshot } from "@/server/billing/policy-context";
import { Prisma } from "@/server/db/client";
import { transactionViaPool, transactionViaPrisma, type RawTransaction } from "@/server/db/raw-query";

import { newOrg, newSubscription, testDatabase, unlimitedOverride } from "../helpers/db";

/**
 * `entitlements.snapshot` against the database: every value is the one `usage.get`
 * (`usageSummary`) and `check` give for the same org, because all three read the same
 * context and decide with the same functions.
 */
const { prisma, pool } = testDatabase();
const DAY_MS = 86_400_000;
const UNKNOWN_ORG = "0b6f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4";

/** The clock is fixed, so the summary, the checks and the snapshot judge windows and grace at one instant. */
function services(options: { pool?: boolean } = {}): { billing: BillingServices; now: Date } {
  const now = new Date();
  return { billing: createBillingServices(prisma, { pool: options.pool === false ? undefined : pool, clock: () => now }), now };
}

/** Every action that adds usage: its check answers about one metric (the binding one of api.call's two). */
const ADDING_ACTIONS = Object.entries(METERED_ACTIONS)
  .filter(([, a]) => a.direction === 1)
  .map(([name]) => name as ActionName);

/** The snapshot agrees with usage.get metric by metric, with check for every metric an action adds to, and with check for every feature. */
async function expectAgreement(billing: BillingServices, orgId: string, snapshot: EntitlementSnapshot) {
  const summary = await billing.entitlements.usageSummary(orgId);
  expect(snapshot).toMatchObject({ orgId, plan: summary.plan, subscriptionStatus: summary.subscriptionStatus });
  expect(snapshot.metrics.map((m) => m.metric)).toEqual([...METRICS]);
  expect(snapshot.metrics).toEqual(
    summary.metrics.map((m) => ({
      metric: m.metric,
      used: m.count,
      limit: m.limit,
      limitKind: m.limitKind,
      remaining: m.remaining,
      overridden: m.limitOverridden,
      windowStart: m.windowStart,
      windowEnd: m.windowEnd,
      lastUpdated: m.lastUpdated,
    })),
  );
  for (const action of ADDING_ACTIONS) {
    const check = await billing.entitlements.check(orgId, action, { amount: 1n });
    const m = snapshot.metrics.find((s) => s.metric === check.metric);
    expect(m, action).toBeDefined();
    expect(
      {
        plan: check.plan,
        used: check.used,
        limit: check.limit,
        limitKind: check.limitKind,
        remaining: check.remaining,
        overridden: check.limitOverridden,
        windowStart: check.windowStart ?? null,
        windowEnd: check.windowEnd ?? null,
      },
      action,
    ).toEqual({
      plan: snapshot.plan,
      used: m?.used,
      limit: m?.limit,
      limitKind: m?.limitKind,
      remaining: m?.remaining,
      overridden: m?.overridden,
      windowStart: m?.windowStart,
      windowEnd: m?.windowEnd,
    });
  }
  expect(snapshot.features.map((f) => f.feature)).toEqual([...FEATURES]);
  for (const { feature, enabled } of snapshot.features) {
    expect((await billing.entitlements.check(orgId, `feature.${feature}`)).allowed, feature).toBe(enabled);
  }
}

describe("entitlements.snapshot", () => {
  it("a Pro org: a gauge, a period counter in its billing period, an override, features true and false — as usage.get and check say", async () => {
    const { billing, now } = services();
    const org = await newOrg(prisma);
    const periodStart = new Date(now.getTime() - 3 * DAY_MS);
    await newSubscription(prisma, org.id, {
      currentPeriodStart: periodStart,
      currentPeriodEnd: new Date(periodStart.getTime() + 30 * DAY_MS),
    });
    await billing.usage.increment(org.id, "members", 3n, "member_added");
    await prisma.limitOverride.create({
      data: { orgId: org.id, metric: "teams", kind: "hard", value: 4n, note: "pilot", createdBy: "test" },
    });
    await unlimitedOverride(prisma, org.id, "api_calls_hourly");
    // Counts api_calls and api_calls_hourly (actions.ts `also`).
    await billing.entitlements.consume(org.id, "api.call", { amount: 7n, idempotencyKey: `snap-${org.id}` });

    const snapshot = await billing.entitlements.snapshot(org.id);
    expect(snapshot).toMatchObject({ plan: "pro", subscriptionStatus: "active", graceEndsAt: null, asOf: now });
    const metric = (name: Metric) => snapshot.metrics.find((m) => m.metric === name);
    expect(metric("members")).toMatchObject({
      used: 3n,
      limit: 25n,
      limitKind: "hard",
      remaining: 22n,
      overridden: false,
      windowStart: null,
    });
    expect(metric("api_calls")).toMatchObject({
      used: 7n,
      limit: 500_000n,
      limitKind: "soft",
      remaining: 499_993n,
      windowStart: periodStart,
    });
    expect(metric("teams")).toMatchObject({ used: 0n, limit: 4n, limitKind: "hard", remaining: 4n, overridden: true, lastUpdated: null });
    expect(metric("api_calls_hourly")).toMatchObject({ limit: null, limitKind: "unlimited", remaining: null, overridden: true, used: 7n });
    expect(snapshot.features).toEqual(
      FEATURES.map((feature) => ({ feature, enabled: feature === "api_access" || feature === "audit_log_export" })),
    );
    await expectAgreement(billing, org.id, snapshot);
  });

  it("a past_due org in grace: graceEndsAt set and features kept; once the grace period is over, null and every feature off", async () => {
    const { billing, now } = services();
    const grace = await newOrg(prisma);
    const since = new Date(now.getTime() - DAY_MS);
    await newSubscription(prisma, grace.id, { productId: "pdt_billing_business", status: "past_due", updatedAt: since });
    const inGrace = await billing.entitlements.snapshot(grace.id);
    expect(inGrace).toMatchObject({
      plan: "business",
      subscriptionStatus: "past_due",
      graceEndsAt: new Date(since.getTime() + GRACE_PERIOD_DAYS * DAY_MS),
    });
    expect(inGrace.features.find((f) => f.feature === "sso")).toEqual({ feature: "sso", enabled: true });
    expect(await billing.entitlements.check(grace.id, "feature.sso")).toMatchObject({ allowed: true, reason: { code: "grace_period" } });
    await expectAgreement(billing, grace.id, inGrace);

    const lapsed = await newOrg(prisma);
    await newSubscription(prisma, lapsed.id, {
      productId: "pdt_billing_business",
      status: "past_due",
      updatedAt: new Date(now.getTime() - (GRACE_PERIOD_DAYS + 1) * DAY_MS),
    });
    const over = await billing.entitlements.snapshot(lapsed.id);
    expect(over).toMatchObject({ plan: "business", subscriptionStatus: "past_due", graceEndsAt: null });
    expect(over.features.every((f) => !f.enabled)).toBe(true);
    await expectAgreement(billing, lapsed.id, over);
  });

  it("reads a row written before windows existed (a second statement, over the ledger) in the same snapshot, on the pool and through Prisma", async () => {
    for (const onPool of [true, false]) {
      const { billing } = services({ pool: onPool });
      const org = await newOrg(prisma);
      await unlimitedOverride(prisma, org.id, "api_calls_hourly");
      await billing.usage.increment(org.id, "api_calls", 5n, "api_call");
      // As a row last written before windows existed: only the ledger knows what it counts in the window.
      await prisma.usageCache.updateMany({ where: { orgId: org.id }, data: { windowStart: null } });
      const snapshot = await billing.entitlements.snapshot(org.id);
      expect(snapshot.metrics.find((m) => m.metric === "api_calls")?.used, `pool: ${onPool}`).toBe(5n);
      await expectAgreement(billing, org.id, snapshot);
    }
  });

  it("reads in a REPEATABLE READ, READ ONLY transaction (one snapshot for every statement), on the pool and through Prisma", async () => {
    const org = await newOrg(prisma);
    for (const transaction of [transactionViaPool(pool), transactionViaPrisma(prisma)]) {
      let seen: unknown;
      // The transaction the read ran in, asked after the read's own statements.
      const observed: RawTransaction = (work) =>
        transaction(async (run) => {
          const result = await work(run);
          seen = (
            await run(
              Prisma.sql`SELECT current_setting('transaction_isolation') AS isolation, current_setting('transaction_read_only') AS read_only`,
            )
          )[0];
          return result;
        });
      expect(await readPolicyContextSnapshot(observed, org.id, new Date())).toMatchObject({ orgId: org.id });
      expect(seen).toEqual({ isolation: "repeatable read", read_only: "on" });
    }
  });

  it("an unknown org is NOT_FOUND (org_not_found) and a non-uuid BAD_REQUEST, like usage.get", async () => {
    const { billing } = services();
    await expect(billing.entitlements.snapshot(UNKNOWN_ORG)).rejects.toMatchObject({ code: "NOT_FOUND", reason: "org_not_found" });
    await expect(billing.entitlements.usageSummary(UNKNOWN_ORG)).rejects.toMatchObject({ code: "NOT_FOUND", reason: "org_not_found" });
    await expect(billing.entitlements.snapshot("not-a-uuid")).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
