import http from "node:http";
import type { AddressInfo } from "node:net";

import DodoPayments, { AuthenticationError, NotFoundError, UnprocessableEntityError } from "dodopayments";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { verifyWebhook } from "@/server/billing/dodo/verify";

import { newWebhookSecret, startFakeDodo, type FakeDodo } from "../../tools";
import { CLI_TIMEOUT_MS, startScript } from "../helpers/cli";
import { waitFor } from "../helpers/wait";

// The fake Dodo is a real HTTP server on 127.0.0.1; the official SDK reaches it via baseURL.

const secret = newWebhookSecret();
let fake: FakeDodo;
let client: DodoPayments;
let receiver: http.Server;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/webhooks/dodo`;
  fake = await startFakeDodo({ apiKey: "test_key", webhook: { target: hookUrl, secret } });
  client = new DodoPayments({ bearerToken: "test_key", baseURL: fake.url, maxRetries: 0 });
});
afterAll(async () => {
  await fake?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});
beforeEach(() => fake.reset());

const event = (id: string, extra: Record<string, unknown> = {}) => ({
  event_id: id,
  customer_id: "cus_1",
  event_name: "api_calls",
  timestamp: new Date().toISOString(),
  metadata: { count: 1 },
  ...extra,
});

describe("fake Dodo: POST /events/ingest", () => {
  it("ingests through the SDK and ignores ids already ingested", async () => {
    expect(await client.usageEvents.ingest({ events: [event("e1"), event("e2")] })).toEqual({ ingested_count: 2 });
    expect(await client.usageEvents.ingest({ events: [event("e2"), event("e3")] })).toEqual({ ingested_count: 1 });
    expect([...fake.ingested.keys()].sort()).toEqual(["e1", "e2", "e3"]);
  });

  it("requires the Bearer API key", async () => {
    const wrong = new DodoPayments({ bearerToken: "nope", baseURL: fake.url, maxRetries: 0 });
    await expect(wrong.usageEvents.ingest({ events: [event("e1")] })).rejects.toBeInstanceOf(AuthenticationError);
    const none = await fetch(`${fake.url}/events/ingest`, { method: "POST", body: JSON.stringify({ events: [event("e1")] }) });
    expect(none.status).toBe(401);
    expect(fake.ingested.size).toBe(0);
  });

  it("accepts 1 to 1000 events per request", async () => {
    await expect(client.usageEvents.ingest({ events: [] })).rejects.toBeInstanceOf(UnprocessableEntityError);
    const many = Array.from({ length: 1001 }, (_, i) => event(`m${i}`));
    await expect(client.usageEvents.ingest({ events: many })).rejects.toMatchObject({ status: 422 });
    expect(await client.usageEvents.ingest({ events: many.slice(0, 1000) })).toEqual({ ingested_count: 1000 });
  });

  it("a duplicate event_id within one request → 422, nothing ingested", async () => {
    await expect(client.usageEvents.ingest({ events: [event("d1"), event("d2"), event("d1")] })).rejects.toMatchObject({
      status: 422,
      error: { code: "DUPLICATE_EVENT_ID" },
    });
    expect(fake.ingested.size).toBe(0);
  });

  it("timestamps older than 1 hour or more than 5 minutes ahead are rejected (whole request, 400)", async () => {
    const old = event("old", { timestamp: new Date(Date.now() - 61 * 60_000).toISOString() });
    const ahead = event("ahead", { timestamp: new Date(Date.now() + 6 * 60_000).toISOString() });
    await expect(client.usageEvents.ingest({ events: [event("ok"), old, ahead] })).rejects.toMatchObject({
      status: 400,
      error: { failed_events: [{ event_id: "old" }, { event_id: "ahead" }] },
    });
    expect(fake.ingested.size).toBe(0);
    const recent = event("recent", { timestamp: new Date(Date.now() - 59 * 60_000).toISOString() });
    expect(await client.usageEvents.ingest({ events: [recent] })).toEqual({ ingested_count: 1 });
  });

  it("rejects malformed events and metadata that is not flat key-values", async () => {
    const bad = (e: Record<string, unknown>) =>
      fetch(`${fake.url}/events/ingest`, {
        method: "POST",
        headers: { authorization: "Bearer test_key", "content-type": "application/json" },
        body: JSON.stringify({ events: [e] }),
      });
    expect((await bad({ event_id: "x", event_name: "api_calls" })).status).toBe(422);
    expect((await bad(event("x", { metadata: { nested: { a: 1 } } }))).status).toBe(422);
    const notJson = await fetch(`${fake.url}/events/ingest`, { method: "POST", headers: { authorization: "Bearer test_key" }, body: "{" });
    expect(notJson.status).toBe(422);
    expect(fake.ingested.size).toBe(0);
  });
});

describe("fake Dodo: injected failures", () => {
  it("429 with retry-after, then 500, then success; the SDK's own retries see them", async () => {
    fake.fail({ route: "ingest", status: 429, retryAfter: 0 });
    fake.fail({ route: "ingest", status: 500 });
    const rate = await client.usageEvents.ingest({ events: [event("r1")] }).catch((e: { status: number; headers: Headers }) => e);
    expect(rate).toMatchObject({ status: 429 });
    expect((rate as { headers: Headers }).headers.get("retry-after")).toBe("0");
    await expect(client.usageEvents.ingest({ events: [event("r1")] })).rejects.toMatchObject({ status: 500 });
    expect(await client.usageEvents.ingest({ events: [event("r1")] })).toEqual({ ingested_count: 1 });
    // With retries the SDK gets through a transient failure on its own.
    fake.fail({ route: "ingest", status: 503, retryAfter: 0, times: 2 });
    const retrying = new DodoPayments({ bearerToken: "test_key", baseURL: fake.url, maxRetries: 2 });
    expect(await retrying.usageEvents.ingest({ events: [event("r2")] })).toEqual({ ingested_count: 1 });
    expect(fake.requests.filter((r) => r.path === "/events/ingest").map((r) => r.status)).toEqual([429, 500, 200, 503, 503, 200]);
  });

  it("a delay makes a client with a short timeout give up", async () => {
    fake.fail({ route: "ingest", delayMs: 500 });
    const impatient = new DodoPayments({ bearerToken: "test_key", baseURL: fake.url, maxRetries: 0, timeout: 100 });
    await expect(impatient.usageEvents.ingest({ events: [event("t1")] })).rejects.toThrow(/timed out/i);
  });
});

describe("fake Dodo: subscriptions and webhooks", () => {
  it("GET /subscriptions/{id} serves what it holds, through the SDK", async () => {
    const sub = fake.putSubscription({ product_id: "pdt_billing_pro", orgId: "00000000-0000-4000-8000-000000000001" });
    const fetched = await client.subscriptions.retrieve(sub.subscription_id);
    expect(fetched).toMatchObject({
      subscription_id: sub.subscription_id,
      product_id: "pdt_billing_pro",
      status: "active",
      metadata: { org_id: sub.metadata.org_id },
    });
    await expect(client.subscriptions.retrieve("sub_missing")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("sends webhooks signed like Dodo, over real HTTP", async () => {
    const sub = fake.putSubscription({});
    const delivery = await fake.sendSubscriptionEvent(sub.subscription_id, "subscription.renewed");
    expect(delivery.status).toBe(200);
    const got = received.at(-1);
    expect(got?.headers["webhook-id"]).toBe(delivery.webhookId);
    const headers = got?.headers as Record<string, string>;
    expect(verifyWebhook(got?.body as string, headers, [secret])).toMatchObject({ ok: true, webhookId: delivery.webhookId });
    expect(JSON.parse(got?.body as string)).toMatchObject({ type: "subscription.renewed", data: { subscription_id: sub.subscription_id } });
    // The control route does the same for a standalone demo.
    const viaControl = await fetch(`${fake.url}/_fake/subscriptions/${sub.subscription_id}/webhook`, {
      method: "POST",
      body: JSON.stringify({ type: "subscription.on_hold" }),
    });
    expect(viaControl.status).toBe(200);
    expect(JSON.parse(received.at(-1)?.body as string)).toMatchObject({ type: "subscription.on_hold" });
  });
});

describe("fake Dodo standalone", () => {
  it(
    "`tsx scripts/fake-dodo.ts --port N` serves until SIGTERM",
    async () => {
      const server = startScript("scripts/fake-dodo.ts", ["--port", "0", "--api-key", "k1"]);
      try {
        const url = await waitFor(
          "the fake's banner",
          () => {
            const { stdout, stderr } = server.output();
            if (server.child.exitCode !== null) throw new Error(`exited with ${server.child.exitCode}: ${stdout}${stderr}`);
            return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
          },
          { timeoutMs: CLI_TIMEOUT_MS },
        );
        const created = await fetch(`${url}/_fake/subscriptions`, {
          method: "POST",
          body: JSON.stringify({ product_id: "pdt_billing_pro" }),
        });
        const sub = (await created.json()) as { subscription_id: string };
        const sdk = new DodoPayments({ bearerToken: "k1", baseURL: url, maxRetries: 0 });
        expect(await sdk.subscriptions.retrieve(sub.subscription_id)).toMatchObject({ product_id: "pdt_billing_pro" });
      } finally {
        server.child.kill("SIGTERM");
      }
      expect((await server.exit).code).toBe(0); // SIGTERM closes it cleanly
    },
    2 * CLI_TIMEOUT_MS,
  );
});
