import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { db as processDb } from "@/server/db/client";

import { subscriptionPayload, webhookPayload, WebhookSender } from "../../tools";
import { newOrg, testDatabase, unlimitedOverride } from "../helpers/db";
import { startRouteServer, type RouteServer } from "../helpers/route-server";

/**
 * A Dodo renewal and the lazy reset of the new period's first write are one reset: the
 * renewal webhook, through the app's real route, and a write whose clock is in the new period
 * write the same `window_reset` row (same key), whichever comes first; the other finds it done.
 */
const WEBHOOK_KEY = `whsec_${Buffer.from("usage-window-renewal-key-0123456789").toString("base64")}`;
process.env.DODO_PAYMENTS_WEBHOOK_KEY = WEBHOOK_KEY;

const { prisma, pool } = testDatabase();
let server: RouteServer;
let route: WebhookSender;
beforeAll(async () => {
  server = await startRouteServer();
  route = new WebhookSender(`${server.origin}/api/webhooks/dodo`, WEBHOOK_KEY);
});
afterAll(async () => {
  await server.close();
  await processDb().close();
});

const HOUR = 3_600_000;

function addMonthsUtc(date: Date, months: number): Date {
  const d = new Date(date);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}

/**
 * A Pro subscription whose period [p0, p1) ended an hour ago, 40 API calls in it, and the
 * services' clock now, in the next period [p1, p2). The webhook timestamps are real (the
 * route checks them); the usage is written at the injected clock.
 */
async function renewalScene() {
  const p1 = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
  const [p0, p2] = [addMonthsUtc(p1, -1), addMonthsUtc(p1, 1)];
  const at = { now: new Date(p1.getTime() - 2 * HOUR) };
  const services = createBillingServices(prisma, { pool, clock: () => at.now });
  const org = await newOrg(prisma);
  await unlimitedOverride(prisma, org.id, "api_calls_hourly"); // api.call answers about api_calls
  const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_pro", periodStart: p0, periodEnd: p1 });
  const activated = await route.send(webhookPayload("subscription.active", sub, new Date(Date.now() - 60_000)));
  expect(activated.status).toBe(200);
  await services.usage.increment(org.id, "api_calls", 40n, "api_call");
  at.now = new Date(p1.getTime() + HOUR);
  const renew = async () => {
    const renewal = { ...sub, previous_billing_date: p1.toISOString(), next_billing_date: p2.toISOString() };
    const delivery = await route.send(webhookPayload("subscription.renewed", renewal));
    expect(delivery.status).toBe(200);
    expect(JSON.parse(delivery.body)).toMatchObject({ status: "processed" });
  };
  const resets = () => prisma.usageLedger.findMany({ where: { orgId: org.id, metric: "api_calls", reason: "window_reset" } });
  const cache = () => prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId: org.id, metric: "api_calls" } } });
  return { org, services, p1, renew, resets, cache };
}

describe("a renewal and the new period's first write reset api_calls once", () => {
  it("the renewal webhook first: it writes the reset; the write in the new period finds it done", async () => {
    const { org, services, p1, renew, resets, cache } = await renewalScene();
    await renew();
    expect((await resets()).map((r) => [r.delta, r.idempotencyKey])).toEqual([[-40n, `window_reset:api_calls:${p1.toISOString()}`]]);
    expect(await cache()).toMatchObject({ count: 0n, windowStart: p1 });

    expect(await services.entitlements.consume(org.id, "api.call", { idempotencyKey: `renewal-${org.id}` })).toMatchObject({
      allowed: true,
      used: 1n,
      windowStart: p1,
    });
    expect(await resets()).toHaveLength(1);
    expect(await cache()).toMatchObject({ count: 1n, windowStart: p1 });
    expect(await services.usage.verify(org.id)).toEqual([]);
  });

  it("the write first: it resets lazily into the period the renewal then starts, which finds it done", async () => {
    const { org, services, p1, renew, resets, cache } = await renewalScene();
    // The renewal has not arrived: the write's window continues the known period.
    expect(await services.entitlements.consume(org.id, "api.call", { idempotencyKey: `renewal-${org.id}` })).toMatchObject({
      allowed: true,
      used: 1n,
      windowStart: p1,
    });
    const [lazy] = await resets();
    expect(lazy).toMatchObject({ delta: -40n, idempotencyKey: `window_reset:api_calls:${p1.toISOString()}`, actor: "system" });

    await renew();
    expect((await resets()).map((r) => r.id)).toEqual([lazy?.id]);
    // The usage recorded in the new period before the renewal arrived stays.
    expect(await cache()).toMatchObject({ count: 1n, windowStart: p1 });
    expect(await services.usage.verify(org.id)).toEqual([]);
  });
});
