import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { DodoBilling } from "@/server/billing/dodo/dodo-billing";
import { createWebhookHandler } from "@/server/billing/dodo/webhook-handler";
import type { UsageService } from "@/server/billing/usage-service";
import { createDatabase, db as processDb } from "@/server/db/client";

import { fakeId, subscriptionPayload, webhookPayload, WebhookSender } from "../../tools";
import { newOrg, testDatabase } from "../helpers/db";
import { startRouteServer, type RouteServer } from "../helpers/route-server";

// The route reads these on first use (env() is cached): set them before any request.
const WEBHOOK_KEY = `whsec_${Buffer.from("dodo-webhooks-test-key-0123456789").toString("base64")}`;
process.env.DODO_PAYMENTS_WEBHOOK_KEY = `${WEBHOOK_KEY}`;
// The route's process-wide pool: ≥ 16 connections, so 50 parallel deliveries really overlap.
process.env.DATABASE_POOL_SIZE = "20";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
// The app's real route, over real HTTP as Dodo delivers.
let server: RouteServer;
let route: WebhookSender;
beforeAll(async () => {
  server = await startRouteServer();
  route = new WebhookSender(`${server.origin}/api/webhooks/dodo`, WEBHOOK_KEY);
});

// A second handle with its own 20-connection pool for calling the service directly in parallel.
const wide = createDatabase(inject("databaseUrl"), { max: 20, applicationName: "vitest-dodo-wide" });
afterAll(async () => {
  await server.close();
  await wide.close();
  await processDb().close();
});

const DAY = 86_400_000;

async function eventRow(id: string) {
  return prisma.webhookEvent.findUnique({ where: { id } });
}

describe("POST /api/webhooks/dodo", () => {
  it("a signed subscription.active moves the org from free-plan limits to the paid plan's", async () => {
    const org = await newOrg(prisma);
    await billing.usage.increment(org.id, "members", 5n, "member_added");
    expect(await billing.entitlements.check(org.id, "member.add")).toMatchObject({
      allowed: false,
      plan: "free",
      limit: 5n,
      reason: { code: "limit_exceeded" },
    });
    expect(await billing.entitlements.check(org.id, "feature.sso")).toMatchObject({ allowed: false });

    const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_business" });
    const delivery = await route.send(webhookPayload("subscription.active", sub));
    expect(delivery.status).toBe(200);
    expect(JSON.parse(delivery.body)).toMatchObject({ status: "processed", duplicate: false });

    expect(await billing.entitlements.check(org.id, "member.add")).toMatchObject({
      allowed: true,
      plan: "business",
      subscriptionStatus: "active",
      limit: 250n,
      used: 5n,
    });
    expect(await billing.entitlements.check(org.id, "feature.sso")).toMatchObject({ allowed: true });

    const row = await prisma.subscription.findUniqueOrThrow({ where: { id: sub.subscription_id } });
    expect(row).toMatchObject({
      orgId: org.id,
      customerId: sub.customer.customer_id,
      productId: "pdt_billing_business",
      status: "active",
      quantity: 1,
      cancelAtPeriodEnd: false,
      lastEventId: delivery.webhookId,
    });
    expect(await eventRow(delivery.webhookId)).toMatchObject({
      type: "subscription.active",
      status: "processed",
      attempts: 1,
      orgId: org.id,
      subscriptionId: sub.subscription_id,
      error: null,
    });
    // The customer → org mapping is learned from the metadata.
    expect(await prisma.dodoCustomer.findUnique({ where: { customerId: sub.customer.customer_id } })).toMatchObject({ orgId: org.id });
  });

  it("a delivery with a bad signature or a stale timestamp stores nothing", async () => {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id });
    const payload = webhookPayload("subscription.active", sub);
    const bad = await route.send(payload, { badSignature: true });
    const stale = await route.send(payload, { signedAt: new Date(Date.now() - 6 * 60_000) });
    const reserialised = await route.send(payload, { tamper: (b) => JSON.stringify(JSON.parse(b), null, 2) });
    expect([bad.status, stale.status, reserialised.status]).toEqual([401, 401, 401]);
    expect(await prisma.webhookEvent.count({ where: { id: { in: [bad.webhookId, stale.webhookId, reserialised.webhookId] } } })).toBe(0);
    expect(await prisma.subscription.count({ where: { id: sub.subscription_id } })).toBe(0);
  });

  it("50 parallel deliveries of one webhook-id through the route: processed exactly once", async () => {
    const org = await newOrg(prisma);
    await billing.usage.increment(org.id, "api_calls", 40n, "api_call");
    const sub = subscriptionPayload({ orgId: org.id, periodStart: new Date(Date.now() + 1000) });
    const deliveries = await route.sendDuplicates(webhookPayload("subscription.renewed", sub), 50);
    expect(deliveries.map((d) => d.status)).toEqual(Array(50).fill(200));
    const bodies = deliveries.map((d) => JSON.parse(d.body) as { duplicate: boolean; status: string });
    expect(bodies.filter((b) => !b.duplicate)).toHaveLength(1);
    expect(bodies.every((b) => b.status === "processed")).toBe(true);
    expect(await eventRow(deliveries[0]?.webhookId as string)).toMatchObject({ status: "processed", attempts: 1 });
    const resets = await prisma.usageLedger.findMany({ where: { orgId: org.id, reason: "window_reset" } });
    expect(resets).toHaveLength(1);
    expect(resets[0]?.delta).toBe(-40n);
  });

  it("50 parallel calls of handleWebhook on a 20-connection pool: one processes, 49 are duplicates", async () => {
    let syncs = 0;
    const service = new DodoBilling(wide.prisma, createBillingServices(wide.prisma).usage);
    const original = service.syncSubscription.bind(service);
    service.syncSubscription = async (...args) => {
      syncs += 1;
      return original(...args);
    };
    const org = await newOrg(prisma);
    const rawBody = JSON.stringify(webhookPayload("subscription.active", subscriptionPayload({ orgId: org.id })));
    const webhookId = fakeId("msg");
    const results = await Promise.all(Array.from({ length: 50 }, () => service.handleWebhook({ webhookId, rawBody })));
    expect(syncs).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await eventRow(webhookId)).toMatchObject({ status: "processed", attempts: 1 });
  });

  it("a repeated webhook-id later is acknowledged and not processed again", async () => {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id });
    const first = await route.send(webhookPayload("subscription.active", sub));
    // Same id, a different (even newer) body: still the same delivery, never re-processed.
    const again = await route.send(webhookPayload("subscription.expired", { ...sub, status: "expired" }, new Date(Date.now() + DAY)), {
      webhookId: first.webhookId,
    });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ duplicate: true, status: "processed" });
    expect(await prisma.subscription.findUnique({ where: { id: sub.subscription_id } })).toMatchObject({ status: "active" });
  });

  it("unknown event types are stored and acknowledged (ignored)", async () => {
    const payment = await route.send(webhookPayload("payment.succeeded", { payment_id: "pay_1", total_amount: 4900 }));
    const future = await route.send({ type: "brand_new.event", timestamp: new Date().toISOString(), data: null, extra: [1, 2] });
    for (const delivery of [payment, future]) {
      expect(delivery.status).toBe(200);
      expect(await eventRow(delivery.webhookId)).toMatchObject({ status: "ignored", attempts: 1 });
    }
    expect((await eventRow(future.webhookId))?.payload).toMatchObject({ type: "brand_new.event", extra: [1, 2] });
  });

  it("an unknown org or product is acknowledged (200) and stored as needs_attention, not retried", async () => {
    const unknownOrg = subscriptionPayload({ orgId: "00000000-0000-4000-8000-00000000dead" });
    const orgDelivery = await route.send(webhookPayload("subscription.active", unknownOrg));
    expect(orgDelivery.status).toBe(200);
    expect(JSON.parse(orgDelivery.body)).toMatchObject({ status: "needs_attention" });
    expect(await eventRow(orgDelivery.webhookId)).toMatchObject({
      status: "needs_attention",
      error: expect.stringContaining("unknown org"),
      subscriptionId: unknownOrg.subscription_id,
    });

    const org = await newOrg(prisma);
    const unknownProduct = subscriptionPayload({ orgId: org.id, product_id: "pdt_not_in_catalogue" });
    const productDelivery = await route.send(webhookPayload("subscription.active", unknownProduct));
    expect(productDelivery.status).toBe(200);
    expect(await eventRow(productDelivery.webhookId)).toMatchObject({
      status: "needs_attention",
      error: expect.stringContaining("unknown product pdt_not_in_catalogue"),
    });
    expect(await prisma.subscription.count({ where: { id: { in: [unknownOrg.subscription_id, unknownProduct.subscription_id] } } })).toBe(
      0,
    );

    const again = await route.send(webhookPayload("subscription.active", unknownProduct), { webhookId: productDelivery.webhookId });
    expect(JSON.parse(again.body)).toMatchObject({ duplicate: true, status: "needs_attention" });
  });

  it("malformed but signed bodies are stored as needs_attention, never a crash", async () => {
    const notJson = await route.send("{not json");
    const noType = await route.send({ hello: "world" });
    const badData = await route.send(webhookPayload("subscription.active", { subscription_id: 42 }));
    for (const delivery of [notJson, noType, badData]) {
      expect(delivery.status).toBe(200);
      expect(await eventRow(delivery.webhookId)).toMatchObject({ status: "needs_attention" });
    }
    expect((await eventRow(badData.webhookId))?.error).toContain("subscription_id");
  });

  it("a customer known from an earlier event finds its org without metadata", async () => {
    const org = await newOrg(prisma);
    const first = subscriptionPayload({ orgId: org.id });
    await route.send(webhookPayload("subscription.active", first));
    const second = subscriptionPayload({ customer: first.customer, metadata: {}, product_id: "pdt_billing_enterprise" });
    expect(second.metadata).toEqual({});
    const delivery = await route.send(webhookPayload("subscription.active", second));
    expect(await eventRow(delivery.webhookId)).toMatchObject({ status: "processed", orgId: org.id });
    // Customer metadata works too.
    const other = await newOrg(prisma);
    const third = subscriptionPayload({ customer: { metadata: { org_id: other.id } } });
    await route.send(webhookPayload("subscription.active", third));
    expect(await prisma.subscription.findUnique({ where: { id: third.subscription_id } })).toMatchObject({ orgId: other.id });
  });
});

describe("processing failures", () => {
  const failingOnce = (kind: "js" | "sql") => {
    let calls = 0;
    const real = createBillingServices(prisma).usage;
    const usage = {
      resetPeriod: async (...args: Parameters<UsageService["resetPeriod"]>) => {
        calls += 1;
        if (calls === 1) {
          const tx = args[3]?.tx;
          if (kind === "sql" && tx) await tx.$executeRaw`SELECT 1/0`;
          throw new Error("simulated outage");
        }
        return real.resetPeriod(...args);
      },
    } as unknown as UsageService;
    return { service: new DodoBilling(prisma, usage), calls: () => calls };
  };

  it.each(["js", "sql"] as const)("a failure (%s error) → 500, stored failed; the retry processes it once", async (kind) => {
    const { service } = failingOnce(kind);
    const sender = new WebhookSender(createWebhookHandler({ keys: [WEBHOOK_KEY], service, log: () => undefined }), WEBHOOK_KEY);
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id });
    const payload = webhookPayload("subscription.active", sub);

    const first = await sender.send(payload);
    expect(first.status).toBe(500);
    const failed = await eventRow(first.webhookId);
    expect(failed).toMatchObject({ status: "failed", attempts: 1, processedAt: null });
    expect(failed?.error).toMatch(kind === "js" ? /simulated outage/ : /division by zero/);
    // The failed attempt's writes were undone.
    expect(await prisma.subscription.count({ where: { id: sub.subscription_id } })).toBe(0);

    const retry = await sender.send(payload, { webhookId: first.webhookId });
    expect(retry.status).toBe(200);
    expect(JSON.parse(retry.body)).toMatchObject({ status: "processed", duplicate: false });
    expect(await eventRow(first.webhookId)).toMatchObject({ status: "processed", attempts: 2, error: null });
    expect(await prisma.subscription.findUnique({ where: { id: sub.subscription_id } })).toMatchObject({ status: "active" });

    const third = await sender.send(payload, { webhookId: first.webhookId });
    expect(JSON.parse(third.body)).toMatchObject({ duplicate: true, status: "processed" });
    expect(await eventRow(first.webhookId)).toMatchObject({ attempts: 2 });
  });

  it("parallel retries of a failed delivery succeed exactly once", async () => {
    const { service, calls } = failingOnce("js");
    const org = await newOrg(prisma);
    const rawBody = JSON.stringify(webhookPayload("subscription.active", subscriptionPayload({ orgId: org.id })));
    const webhookId = fakeId("msg");
    expect(await service.handleWebhook({ webhookId, rawBody })).toMatchObject({ status: "failed" });
    const retries = await Promise.all(Array.from({ length: 10 }, () => service.handleWebhook({ webhookId, rawBody })));
    expect(retries.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(calls()).toBe(2);
    expect(await eventRow(webhookId)).toMatchObject({ status: "processed", attempts: 2 });
  });
});

describe("staff replay", () => {
  const service = new DodoBilling(prisma, billing.usage);

  it("a needs_attention event succeeds once the problem is fixed, and only once", async () => {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ metadata: {} });
    const delivery = await route.send(webhookPayload("subscription.active", sub));
    expect(await eventRow(delivery.webhookId)).toMatchObject({ status: "needs_attention", attempts: 1 });

    // Staff maps the customer to its org, then replays.
    await prisma.dodoCustomer.create({ data: { customerId: sub.customer.customer_id, orgId: org.id } });
    const results = await Promise.all([1, 2, 3].map(() => service.replayWebhook(delivery.webhookId)));
    expect(results.filter((r) => !r.duplicate)).toEqual([expect.objectContaining({ status: "processed", attempts: 2 })]);
    expect(await eventRow(delivery.webhookId)).toMatchObject({ status: "processed", attempts: 2, error: null, orgId: org.id });
    expect(await prisma.subscription.findUnique({ where: { id: sub.subscription_id } })).toMatchObject({ orgId: org.id, status: "active" });
    expect(await service.replayWebhook(delivery.webhookId)).toMatchObject({ duplicate: true, status: "processed" });
  });

  it("replays a stored body that was not JSON (still needs attention), and refuses an unknown id", async () => {
    const delivery = await route.send("{oops");
    expect(await service.replayWebhook(delivery.webhookId)).toMatchObject({
      status: "needs_attention",
      error: expect.stringContaining("not JSON"),
    });
    await expect(service.replayWebhook("msg_does_not_exist")).rejects.toMatchObject({
      code: "NOT_FOUND",
      reason: "webhook_event_not_found",
    });
  });
});
