import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBillingClient } from "@/client";
import { appRouter } from "@/server/api/root";
import { createTRPCContext } from "@/server/api/trpc";
import { createBillingServices } from "@/server/billing";
import { ApiKeyService } from "@/server/billing/api-keys";
import { BillingService } from "@/server/billing/dodo/billing-service";
import { createWebhookHandler } from "@/server/billing/dodo/webhook-handler";
import { subscriptionPayload, webhookPayload } from "../../scripts/fake-dodo/payloads";
import { newWebhookSecret, WebhookSender } from "../../scripts/fake-dodo/webhooks";
import { newOrg, testDatabase } from "../helpers/db";

/**
 * The whole path over real HTTP, as Dodo and the product app see it: a signed webhook POSTed
 * to /api/webhooks/dodo, then `billing.entitlements.check` through the typed client with an
 * API key, on one server that routes like the Next app (same handlers, same router).
 */
const { prisma } = testDatabase();
const secret = newWebhookSecret();
const webhook = createWebhookHandler({ keys: [secret], service: new BillingService(prisma, createBillingServices(prisma).usage), log: () => {} });

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  return new Request(new URL(req.url ?? "/", origin), { method: req.method, headers, body });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

let server: Server;
let origin: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    void (async () => {
      const request = await toRequest(req, origin);
      const path = new URL(request.url).pathname;
      if (path === "/api/webhooks/dodo" && request.method === "POST") return send(res, await webhook(request));
      if (path.startsWith("/api/trpc/")) {
        return send(
          res,
          await fetchRequestHandler({ endpoint: "/api/trpc", req: request, router: appRouter, createContext: () => createTRPCContext({ headers: request.headers, db: () => prisma }) }),
        );
      }
      res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("signed webhook → policy, end to end over HTTP", () => {
  it("moves an org from the free plan's limits to the paid plan's, as the product app sees it", async () => {
    const { secret: apiKey } = await new ApiKeyService(prisma).create({ name: "e2e-dodo", scopes: ["entitlements:read", "usage:write", "usage:read"], createdBy: "vitest" });
    const client = createBillingClient({ url: `${origin}/api/trpc`, apiKey });
    const org = await newOrg(prisma);
    await client.billing.usage.increment.mutate({ orgId: org.id, metric: "members", amount: 5n, reason: "member_added" });

    expect(await client.billing.entitlements.check.query({ orgId: org.id, action: "member.add" })).toMatchObject({
      allowed: false,
      plan: "free",
      limit: 5n,
      reason: { code: "limit_exceeded" },
    });

    const sender = new WebhookSender(`${origin}/api/webhooks/dodo`, secret);
    const payload = webhookPayload("subscription.active", subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_pro" }));
    const forged = await new WebhookSender(`${origin}/api/webhooks/dodo`, newWebhookSecret()).send(payload);
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
    expect(await client.billing.entitlements.check.query({ orgId: org.id, action: "feature.audit_log_export" })).toMatchObject({ allowed: true });
  });
});
