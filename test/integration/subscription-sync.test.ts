import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { createDodoClient } from "@/server/billing/dodo/client";
import { DodoBilling } from "@/server/billing/dodo/dodo-billing";

import {
  fakeId,
  shuffle,
  startFakeDodo,
  subscriptionPayload,
  webhookPayload,
  type DodoSubscription,
  type FakeDodo,
  type SubscriptionInit,
} from "../../tools";
import { newOrg, testDatabase } from "../helpers/db";

// Subscription events are STATE: whatever the order, duplication or lateness of the
// deliveries, the row ends equal to the newest event's state.

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const service = new DodoBilling(prisma, billing.usage);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.now();
// The renewal's period starts after the usage the tests record, so all of it is carried out.
const P0 = { periodStart: new Date(NOW - 30 * DAY), periodEnd: new Date(NOW + 10 * 60_000) };
const P1 = { periodStart: new Date(NOW + 10 * 60_000), periodEnd: new Date(NOW + 30 * DAY) };

interface Step {
  type: string;
  /** Event time, hours after the history starts (the history starts 10 days ago). */
  hour: number;
  state: SubscriptionInit;
}

const PATHS: Record<string, Step[]> = {
  "active → renewed": [
    { type: "subscription.active", hour: 0, state: { status: "active", ...P0 } },
    { type: "subscription.renewed", hour: 1, state: { status: "active", ...P1 } },
  ],
  "active → on_hold → active": [
    { type: "subscription.active", hour: 0, state: { status: "active", ...P0 } },
    { type: "subscription.on_hold", hour: 1, state: { status: "on_hold", ...P0 } },
    { type: "subscription.active", hour: 2, state: { status: "active", ...P1 } },
  ],
  "active → cancelled → expired": [
    { type: "subscription.active", hour: 0, state: { status: "active", ...P0 } },
    {
      type: "subscription.cancelled",
      hour: 1,
      state: { status: "cancelled", ...P0, cancel_at_next_billing_date: true, cancelled_at: new Date(NOW - 9 * DAY).toISOString() },
    },
    {
      type: "subscription.expired",
      hour: 2,
      state: {
        status: "expired",
        ...P0,
        cancel_at_next_billing_date: true,
        cancelled_at: new Date(NOW - 9 * DAY).toISOString(),
        expires_at: new Date(NOW - 8 * DAY).toISOString(),
      },
    },
  ],
  "active → renewed → cancelled (cancelled may arrive before renewed)": [
    { type: "subscription.active", hour: 0, state: { status: "active", ...P0 } },
    { type: "subscription.renewed", hour: 1, state: { status: "active", ...P1 } },
    {
      type: "subscription.cancelled",
      hour: 2,
      state: { status: "cancelled", ...P1, cancel_at_next_billing_date: true, cancelled_at: new Date(NOW).toISOString() },
    },
  ],
  "active → plan_changed → renewed": [
    { type: "subscription.active", hour: 0, state: { status: "active", product_id: "pdt_billing_pro", ...P0 } },
    { type: "subscription.plan_changed", hour: 1, state: { status: "active", product_id: "pdt_billing_business", quantity: 3, ...P0 } },
    { type: "subscription.renewed", hour: 2, state: { status: "active", product_id: "pdt_billing_business", quantity: 3, ...P1 } },
  ],
  "pending → active → paused → unpaused": [
    { type: "subscription.updated", hour: 0, state: { status: "pending", ...P0 } },
    { type: "subscription.active", hour: 1, state: { status: "active", ...P0 } },
    { type: "subscription.paused", hour: 2, state: { status: "paused", ...P0, paused_at: new Date(NOW).toISOString() } },
    { type: "subscription.unpaused", hour: 3, state: { status: "active", ...P1 } },
  ],
  "pending → failed": [
    { type: "subscription.updated", hour: 0, state: { status: "pending", ...P0 } },
    { type: "subscription.failed", hour: 1, state: { status: "failed", ...P0 } },
  ],
};

const ORDERS = ["in order", "reversed", "shuffled 1", "shuffled 2", "shuffled 3", "each twice, shuffled", "all in parallel"] as const;

interface Delivery {
  webhookId: string;
  rawBody: string;
  step: Step;
}

function build(orgId: string, steps: Step[]): { subscription: DodoSubscription; deliveries: Delivery[]; start: number } {
  const base = subscriptionPayload({ orgId });
  const start = NOW - 10 * DAY;
  const deliveries = steps.map((step) => {
    const data = subscriptionPayload({ ...base, customer: base.customer, ...step.state, subscription_id: base.subscription_id });
    return {
      webhookId: fakeId("msg"),
      rawBody: JSON.stringify(webhookPayload(step.type, data, new Date(start + step.hour * HOUR))),
      step,
    };
  });
  return { subscription: base, deliveries, start };
}

async function deliver(deliveries: Delivery[], order: (typeof ORDERS)[number]) {
  const send = (d: Delivery) => service.handleWebhook({ webhookId: d.webhookId, rawBody: d.rawBody });
  const seed = Number(order.at(-1)) || 7;
  let list: Delivery[];
  switch (order) {
    case "in order":
      list = deliveries;
      break;
    case "reversed":
      list = [...deliveries].reverse();
      break;
    case "each twice, shuffled":
      list = shuffle([...deliveries, ...deliveries], seed);
      break;
    case "all in parallel": {
      const results = await Promise.all([...deliveries, ...deliveries].map(send));
      expect(results.every((r) => r.status === "processed")).toBe(true);
      return;
    }
    default:
      list = shuffle(deliveries, seed);
  }
  for (const d of list) expect(await send(d)).toMatchObject({ status: "processed" });
}

function expectedRow(orgId: string, subscription: DodoSubscription, newest: Step, start: number) {
  const state = subscriptionPayload({
    ...subscription,
    customer: subscription.customer,
    ...newest.state,
    subscription_id: subscription.subscription_id,
  });
  const date = (v: string | null) => (v ? new Date(v) : null);
  return {
    id: subscription.subscription_id,
    orgId,
    customerId: subscription.customer.customer_id,
    productId: state.product_id,
    status: state.status,
    quantity: state.quantity,
    currentPeriodStart: new Date(state.previous_billing_date),
    currentPeriodEnd: new Date(state.next_billing_date),
    cancelAtPeriodEnd: state.cancel_at_next_billing_date,
    cancelledAt: date(state.cancelled_at),
    expiresAt: date(state.expires_at),
    lastEventAt: new Date(start + newest.hour * HOUR),
  };
}

describe("syncSubscription: out-of-order and duplicate histories converge to the newest state", () => {
  for (const [name, steps] of Object.entries(PATHS)) {
    describe(name, () => {
      it.each(ORDERS)("%s", async (order) => {
        const org = await newOrg(prisma);
        const { subscription, deliveries, start } = build(org.id, steps);
        await deliver(deliveries, order);
        const row = await prisma.subscription.findUniqueOrThrow({ where: { id: subscription.subscription_id } });
        expect(row).toMatchObject(expectedRow(org.id, subscription, steps.at(-1) as Step, start));
        const newest = deliveries.at(-1) as Delivery;
        expect(row.lastEventId).toBe(newest.webhookId);
        // Every delivery is recorded once, processed once.
        const events = await prisma.webhookEvent.findMany({ where: { id: { in: deliveries.map((d) => d.webhookId) } } });
        expect(events).toHaveLength(deliveries.length);
        expect(events.every((e) => e.status === "processed" && e.attempts === 1)).toBe(true);
        // At most one reset per period, and api_calls never below zero.
        const resets = await prisma.usageLedger.findMany({ where: { orgId: org.id, reason: "window_reset" } });
        const periods = resets.map((r) => (r.metadata as { windowStart: string }).windowStart);
        expect(new Set(periods).size).toBe(periods.length);
        expect(await billing.usage.verify(org.id)).toEqual([]);
      });
    });
  }
});

describe("period counters reset on renewal, once per period", () => {
  it.each(ORDERS)("active → renewed, %s: api_calls back to 0 with one window_reset row", async (order) => {
    const org = await newOrg(prisma);
    await billing.usage.increment(org.id, "api_calls", 40n, "api_call");
    const { deliveries } = build(org.id, PATHS["active → renewed"] as Step[]);
    await deliver(deliveries, order);
    // Redelivery of the renewal under a new webhook-id (same state): still one reset.
    const renewal = deliveries[1] as Delivery;
    await service.handleWebhook({ webhookId: fakeId("msg"), rawBody: renewal.rawBody });
    const resets = await prisma.usageLedger.findMany({ where: { orgId: org.id, reason: "window_reset" } });
    expect(resets.map((r) => r.delta)).toEqual([-40n]);
    expect(resets[0]?.metadata).toMatchObject({ windowStart: P1.periodStart.toISOString() });
    expect(resets[0]?.idempotencyKey).toBe(`window_reset:api_calls:${P1.periodStart.toISOString()}`);
    expect((await billing.usage.getUsage(org.id)).find((u) => u.metric === "api_calls")?.count).toBe(0n);
  });

  it("a stale event for an older period never resets or rewinds the period", async () => {
    const org = await newOrg(prisma);
    const { subscription, deliveries } = build(org.id, PATHS["active → renewed"] as Step[]);
    await deliver([deliveries[1] as Delivery], "in order");
    await billing.usage.increment(org.id, "api_calls", 5n, "api_call");
    const stale = await service.handleWebhook(deliveries[0] as Delivery);
    expect(stale).toMatchObject({ status: "processed", outcome: expect.stringContaining("stale") });
    const row = await prisma.subscription.findUniqueOrThrow({ where: { id: subscription.subscription_id } });
    expect(row.currentPeriodStart).toEqual(P1.periodStart);
    expect((await billing.usage.getUsage(org.id)).find((u) => u.metric === "api_calls")?.count).toBe(5n);
  });
});

describe("the policy reads the synced subscription", () => {
  async function onHoldSince(daysAgo: number) {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id, ...P0 });
    const at = (d: number) => new Date(NOW - d * DAY);
    await service.syncSubscription({ id: fakeId("msg"), type: "subscription.active", timestamp: at(daysAgo + 1), data: sub });
    await service.syncSubscription({
      id: fakeId("msg"),
      type: "subscription.on_hold",
      timestamp: at(daysAgo),
      data: { ...sub, status: "on_hold" },
    });
    // A later event with the same status does not restart the grace period.
    await service.syncSubscription({
      id: fakeId("msg"),
      type: "subscription.updated",
      timestamp: at(0),
      data: { ...sub, status: "on_hold", quantity: 2 },
    });
    const row = await prisma.subscription.findUniqueOrThrow({ where: { id: sub.subscription_id } });
    expect(row.updatedAt).toEqual(at(daysAgo));
    expect(row.quantity).toBe(2);
    return org.id;
  }

  it("on_hold: grace counts from when the status changed, then increments are denied", async () => {
    expect(await billing.entitlements.check(await onHoldSince(1), "member.add")).toMatchObject({
      allowed: true,
      plan: "pro",
      reason: { code: "grace_period" },
    });
    expect(await billing.entitlements.check(await onHoldSince(8), "member.add")).toMatchObject({
      allowed: false,
      reason: { code: "subscription_inactive" },
    });
  });

  it("cancelled keeps the plan until the period ends; expired falls to free", async () => {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id, ...P1 });
    await service.syncSubscription({ id: fakeId("msg"), type: "subscription.active", timestamp: new Date(NOW - HOUR), data: sub });
    const cancelled = { ...sub, status: "cancelled", cancel_at_next_billing_date: true, cancelled_at: new Date(NOW).toISOString() };
    await service.syncSubscription({ id: fakeId("msg"), type: "subscription.cancelled", timestamp: new Date(NOW), data: cancelled });
    expect(await billing.entitlements.check(org.id, "feature.audit_log_export")).toMatchObject({
      allowed: true,
      plan: "pro",
      subscriptionStatus: "cancelled",
    });
    const expired = { ...cancelled, status: "expired", expires_at: new Date(NOW + HOUR).toISOString() };
    await service.syncSubscription({ id: fakeId("msg"), type: "subscription.expired", timestamp: new Date(NOW + HOUR), data: expired });
    expect(await billing.entitlements.check(org.id, "feature.audit_log_export")).toMatchObject({ allowed: false, plan: "free" });
  });
});

describe("reconcileSubscriptions against the fake Dodo", () => {
  let fake: FakeDodo;
  beforeAll(async () => {
    fake = await startFakeDodo({ apiKey: "reconcile_key" });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it("a lost webhook cannot leave an org on the wrong plan; later-stamped webhooks still apply", async () => {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id, ...P1 });
    await service.syncSubscription({ id: fakeId("msg"), type: "subscription.active", timestamp: new Date(NOW - DAY), data: sub });
    expect(await billing.entitlements.check(org.id, "feature.audit_log_export")).toMatchObject({ allowed: true, plan: "pro" });

    // Dodo expired it; the webhook never arrived.
    fake.putSubscription({ ...sub, status: "expired", expires_at: new Date(NOW - HOUR).toISOString() });
    const missing = await newOrg(prisma);
    await service.syncSubscription({
      id: fakeId("msg"),
      type: "subscription.active",
      timestamp: new Date(NOW - DAY),
      data: subscriptionPayload({ orgId: missing.id }),
    });

    const api = createDodoClient({ apiKey: "reconcile_key", baseURL: fake.url, maxRetries: 0 });
    if (!api) throw new Error("no client");
    const report = await service.reconcileSubscriptions(api, { orgId: org.id });
    expect(report).toEqual({ checked: 1, synced: 1, stale: 0, problems: [] });
    expect(await prisma.subscription.findUnique({ where: { id: sub.subscription_id } })).toMatchObject({ status: "expired" });
    expect(await billing.entitlements.check(org.id, "feature.audit_log_export")).toMatchObject({ allowed: false, plan: "free" });

    // A late webhook from before the fetch is stale.
    const late = await service.syncSubscription({ id: fakeId("msg"), type: "subscription.active", timestamp: new Date(NOW), data: sub });
    expect(late.action).toBe("stale");

    // A subscription Dodo does not know is reported, not fatal.
    const unknown = await service.reconcileSubscriptions(api, { orgId: missing.id });
    expect(unknown).toMatchObject({ checked: 1, synced: 0, problems: [{ error: expect.stringMatching(/404|not found/i) }] });
  });

  it("fetches a few subscriptions at a time, each synced once, problems in a stable order", async () => {
    const org = await newOrg(prisma);
    const subs = Array.from({ length: 7 }, () => subscriptionPayload({ orgId: org.id, ...P1 }));
    for (const sub of subs) {
      await service.syncSubscription({ id: fakeId("msg"), type: "subscription.active", timestamp: new Date(NOW - DAY), data: sub });
    }
    const byId = new Map(subs.map((sub) => [sub.subscription_id, sub]));
    const refused = [...byId.keys()].sort().slice(0, 2);
    // The first three fetches are held until all three are in flight at once (a barrier, not
    // a pause), so the peak is exactly 3 however the machine schedules: at least 3 because
    // they meet, at most 3 because of the limit. Only a limiter that never lets 3 run together
    // leaves the barrier shut; after 10 s it gives up, and the peak then tells.
    const LIMIT = 3;
    let inFlight = 0;
    let most = 0;
    let arrived = 0;
    let open = () => {};
    const barrier = new Promise<void>((resolve) => (open = resolve));
    const giveUp = setTimeout(() => open(), 10_000);
    const api = {
      subscriptions: {
        async retrieve(id: string) {
          inFlight += 1;
          most = Math.max(most, inFlight);
          try {
            if (arrived < LIMIT) {
              arrived += 1;
              if (arrived === LIMIT) open();
              await barrier;
            }
          } finally {
            inFlight -= 1;
          }
          if (refused.includes(id)) throw new Error(`404 ${id} not found`);
          return { ...byId.get(id), status: "on_hold" };
        },
      },
    };
    const report = await service.reconcileSubscriptions(api, { orgId: org.id, concurrency: LIMIT }).finally(() => clearTimeout(giveUp));
    expect(most).toBe(LIMIT);
    expect(report).toMatchObject({ checked: 7, synced: 5, stale: 0 });
    expect(report.problems.map((p) => p.subscriptionId)).toEqual(refused);
    const rows = await prisma.subscription.findMany({ where: { orgId: org.id } });
    expect(rows.filter((r) => r.status === "on_hold")).toHaveLength(5);
  });
});
