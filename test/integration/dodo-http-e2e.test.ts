import { describe, expect, it } from "vitest";

import { MAX_WEBHOOK_BYTES } from "@/server/billing/dodo/webhook-handler";

import { newWebhookSecret, subscriptionPayload, webhookPayload, WebhookSender } from "../../tools";
import { billingClient } from "../helpers/billing-client";
import { newOrg, testDatabase } from "../helpers/db";
import { routeServerForFile } from "../helpers/route-server";

/**
 * The whole path over real HTTP, as Dodo and the product app see it: a signed webhook POSTed
 * to the app's real /api/webhooks/dodo route, then `billing.entitlements.check` through the
 * typed client with an API key on the real /api/trpc route, both on the process-wide
 * database and services, as in the server.
 */
const { prisma } = testDatabase();
const secret = newWebhookSecret();
// The route reads its keys from the environment on its first request (env() is cached then).
process.env.DODO_PAYMENTS_WEBHOOK_KEY = secret;

const server = await routeServerForFile();
const webhookUrl = `${server.origin}/api/webhooks/dodo`;

describe("signed webhook → policy, end to end over HTTP", () => {
  it("moves an org from the free plan's limits to the paid plan's, as the product app sees it", async () => {
    const { client } = await billingClient(prisma, server);
    const org = await newOrg(prisma);
    await client.billing.usage.increment.mutate({ orgId: org.id, metric: "members", amount: 5n, reason: "member_added" });

    expect(await client.billing.entitlements.check.query({ orgId: org.id, action: "member.add" })).toMatchObject({
      allowed: false,
      plan: "free",
      limit: 5n,
      reason: { code: "limit_exceeded" },
    });

    const sender = new WebhookSender(webhookUrl, secret);
    const payload = webhookPayload("subscription.active", subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_pro" }));
    const forged = await new WebhookSender(webhookUrl, newWebhookSecret()).send(payload);
    expect(forged.status).toBe(401);
    expect(await client.billing.entitlements.check.query({ orgId: org.id, action: "member.add" })).toMatchObject({ plan: "free" });

    const delivered = await sender.send(payload);
    expect(delivered.status).toBe(200);
    const again = await sender.send(payload, { webhookId: delivered.webhookId });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ duplicate: true });

    expect(await client.billing.entitlements.check.query({ orgId: org.id, action: "member.add" })).toMatchObject({
      allowed: true,
      plan: "pro",
      subscriptionStatus: "active",
      limit: 25n,
      used: 5n,
      remaining: 20n,
    });
    expect(await client.billing.entitlements.check.query({ orgId: org.id, action: "feature.audit_log_export" })).toMatchObject({
      allowed: true,
    });
  });

  it("refuses a body over 1 MiB sent chunked (no content-length) with 413, and stores nothing", async () => {
    const chunk = new TextEncoder().encode("x".repeat(65_536));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_WEBHOOK_BYTES) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const webhookId = `msg_oversize_${Date.now()}`;
    const { request } = new WebhookSender(webhookUrl, secret).request("{}", { webhookId });
    const response = await fetch(webhookUrl, { method: "POST", headers: request.headers, body, duplex: "half" } as RequestInit);
    expect(response.status).toBe(413);
    expect(await prisma.webhookEvent.findUnique({ where: { id: webhookId } })).toBeNull();
  });
});
