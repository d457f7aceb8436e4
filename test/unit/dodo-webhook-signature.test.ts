import { describe, expect, it, vi } from "vitest";

import { verifyWebhook } from "@/server/billing/dodo/verify";
import { createWebhookHandler, MAX_WEBHOOK_BYTES, webhookRejections } from "@/server/billing/dodo/webhook-handler";
import type { HandleResult } from "@/server/billing/dodo/webhook-inbox";

import { newWebhookSecret, subscriptionPayload, webhookPayload, WebhookSender, type SendOptions } from "../../tools";

const MINUTE = 60_000;
const oldKey = newWebhookSecret();
const newKey = newWebhookSecret();

function setup(keys: string[] = [oldKey]) {
  const handled: { webhookId: string; rawBody: string }[] = [];
  const lines: string[] = [];
  const service = {
    handleWebhook: vi.fn(async (delivery: { webhookId: string; rawBody: string }): Promise<HandleResult> => {
      handled.push(delivery);
      return { webhookId: delivery.webhookId, duplicate: false, status: "processed", attempts: 1 };
    }),
  };
  const handler = createWebhookHandler({ keys, service, log: (line) => lines.push(line) });
  return { handler, handled, lines, sender: new WebhookSender(handler, keys[0] ?? oldKey) };
}

const event = webhookPayload("subscription.active", subscriptionPayload({ orgId: "00000000-0000-4000-8000-000000000001" }));

describe("webhook signature matrix (through the route's handler)", () => {
  const cases: { name: string; options: SendOptions; keys?: string[]; status: number; reason?: string }[] = [
    { name: "a valid signature", options: {}, status: 200 },
    { name: "a tampered body", options: { tamper: (b) => b.replace('"active"', '"expired"') }, status: 401, reason: "bad_signature" },
    { name: "a wrong key", options: { badSignature: true }, status: 401, reason: "bad_signature" },
    { name: "the second key during rotation", options: { secret: newKey }, keys: [oldKey, newKey], status: 200 },
    { name: "the first key during rotation", options: { secret: oldKey }, keys: [oldKey, newKey], status: 200 },
    { name: "the retired key after rotation", options: { secret: oldKey }, keys: [newKey], status: 401, reason: "bad_signature" },
    { name: "a missing webhook-signature", options: { omitHeaders: ["webhook-signature"] }, status: 401, reason: "missing_headers" },
    { name: "a missing webhook-id", options: { omitHeaders: ["webhook-id"] }, status: 401, reason: "missing_headers" },
    { name: "a missing webhook-timestamp", options: { omitHeaders: ["webhook-timestamp"] }, status: 401, reason: "missing_headers" },
    { name: "a timestamp 6 minutes old", options: { signedAt: new Date(Date.now() - 6 * MINUTE) }, status: 401, reason: "bad_timestamp" },
    { name: "a timestamp 6 minutes ahead", options: { signedAt: new Date(Date.now() + 6 * MINUTE) }, status: 401, reason: "bad_timestamp" },
    { name: "a timestamp 4 minutes old", options: { signedAt: new Date(Date.now() - 4 * MINUTE) }, status: 200 },
    {
      name: "a re-serialised body",
      options: { tamper: (b) => JSON.stringify(JSON.parse(b), null, 2) },
      status: 401,
      reason: "bad_signature",
    },
    {
      name: "a body re-serialised compactly",
      options: { tamper: (b) => JSON.stringify(JSON.parse(b)) + "\n" },
      status: 401,
      reason: "bad_signature",
    },
  ];

  it.each(cases)("$name → $status", async ({ options, keys, status, reason }) => {
    const { handler, handled, lines } = setup(keys);
    const sender = new WebhookSender(handler, oldKey);
    const delivery = await sender.send(event, options);
    expect(delivery.status).toBe(status);
    if (status === 200) {
      expect(handled).toHaveLength(1);
      // The domain gets the raw body exactly as signed.
      expect(handled[0]?.rawBody).toBe(JSON.stringify(event));
      expect(handled[0]?.webhookId).toBe(delivery.webhookId);
    } else {
      expect(handled).toHaveLength(0);
      expect(JSON.parse(delivery.body)).toMatchObject({ reason });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`reason=${reason}`);
      // The log line never carries the body.
      expect(lines[0]).not.toContain("subscription.active");
      expect(lines[0]).not.toContain(event.data.subscription_id as string);
    }
  });

  it("counts rejections by reason", async () => {
    const before = webhookRejections.bad_signature ?? 0;
    const { sender } = setup();
    await sender.send(event, { badSignature: true });
    expect(webhookRejections.bad_signature).toBe(before + 1);
  });

  it("with no key configured, every delivery is refused", async () => {
    const { handler, handled } = setup([]);
    const delivery = await new WebhookSender(handler, oldKey).send(event);
    expect(delivery.status).toBe(401);
    expect(JSON.parse(delivery.body)).toMatchObject({ reason: "no_keys" });
    expect(handled).toHaveLength(0);
  });

  it("a body over 1 MiB → 413 before verification; exactly 1 MiB is read", async () => {
    const { handler, handled } = setup();
    const sender = new WebhookSender(handler, oldKey);
    const padding = (n: number) => ({ ...event, padding: "x".repeat(n) });
    const base = JSON.stringify(padding(0)).length;
    const over = await sender.send(padding(MAX_WEBHOOK_BYTES - base + 1));
    expect(over.status).toBe(413);
    const exact = await sender.send(padding(MAX_WEBHOOK_BYTES - base));
    expect(exact.status).toBe(200);
    expect(handled).toHaveLength(1);
  });

  it("a body over 1 MiB without content-length (streamed) → 413", async () => {
    const { handler } = setup();
    const big = new TextEncoder().encode("x".repeat(MAX_WEBHOOK_BYTES + 10));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < big.length; i += 65_536) controller.enqueue(big.subarray(i, i + 65_536));
        controller.close();
      },
    });
    const request = new Request("http://127.0.0.1/api/webhooks/dodo", { method: "POST", body: stream, duplex: "half" } as RequestInit);
    expect(request.headers.get("content-length")).toBeNull();
    expect((await handler(request)).status).toBe(413);
  });

  it("a processing failure answers 500 (Dodo retries); needs_attention and duplicates answer 200", async () => {
    const results: HandleResult[] = [
      { webhookId: "a", duplicate: false, status: "failed", attempts: 1, error: "db down" },
      { webhookId: "a", duplicate: false, status: "needs_attention", attempts: 1, error: "unknown org" },
      { webhookId: "a", duplicate: true, status: "processed" },
      { webhookId: "a", duplicate: false, status: "ignored", attempts: 1 },
    ];
    const statuses: number[] = [];
    for (const result of results) {
      const handler = createWebhookHandler({ keys: [oldKey], service: { handleWebhook: async () => result }, log: () => undefined });
      statuses.push((await new WebhookSender(handler, oldKey).send(event)).status);
    }
    expect(statuses).toEqual([500, 200, 200, 200]);
  });
});

describe("verifyWebhook", () => {
  it("reports which rotation key matched", () => {
    const body = JSON.stringify(event);
    const { request } = new WebhookSender("http://x", newKey).request(body);
    const headers = Object.fromEntries(request.headers.entries());
    expect(verifyWebhook(body, headers, [oldKey, newKey])).toMatchObject({ ok: true, keyIndex: 1 });
    expect(verifyWebhook(body, headers, [oldKey])).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  it("skips an unusable key instead of failing every delivery", () => {
    const body = JSON.stringify(event);
    const { request } = new WebhookSender("http://x", newKey).request(body);
    const headers = Object.fromEntries(request.headers.entries());
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    expect(verifyWebhook(body, headers, ["whsec_", newKey])).toMatchObject({ ok: true });
    spy.mockRestore();
  });
});
