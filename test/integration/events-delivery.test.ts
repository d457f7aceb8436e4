import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";

import { deliverEvents, fanOutEvents, insertEvent } from "@/server/billing/events";
import { createEndpointAsStaff, rotateEndpointSecretAsStaff, sendTestEventAsStaff } from "@/server/billing/events/endpoints";
import { ROTATION_WINDOW_MS } from "@/server/billing/events/signing";

import { newOrg, testDatabase } from "../helpers/db";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver";

const { prisma } = testDatabase();
const LOCAL = { allowPrivate: true };
const fast = { timeoutMs: 1_000, policy: LOCAL, retryDelay: () => 20, waitForRetries: true, maxWaitMs: 30_000 };

// Endpoints are global: each test disables the ones it made, so no other test's fan-out sends to them.
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function endpointFor(
  receiver: Receiver,
  eventTypes: ("entitlements.changed" | "subscription.changed")[] = ["entitlements.changed", "subscription.changed"],
) {
  const created = await createEndpointAsStaff(prisma, { url: receiver.url, eventTypes: [...eventTypes] }, "staff:test@example.com", LOCAL);
  receiver.secrets.push(created.secret);
  cleanups.push(() => prisma.webhookEndpoint.update({ where: { id: created.endpoint.id }, data: { enabled: false } }));
  cleanups.push(() => receiver.close());
  return created;
}

async function eventFor(orgId: string, type: "entitlements.changed" | "subscription.changed" = "entitlements.changed", n = 1n) {
  return (await insertEvent(prisma, { type, orgId, payload: { n, at: new Date("2026-01-01T00:00:00Z") } })) as string;
}

describe("outgoing event delivery", () => {
  it("retries a 500 and a timeout, then is delivered once a 2xx comes; every attempt recorded", async () => {
    const answers: ("hang" | number)[] = [500, "hang", 200];
    const receiver = await startReceiver((_r, nth) => answers[nth - 1] ?? 200);
    const { endpoint, secret } = await endpointFor(receiver);
    expect(secret).toMatch(/^whsec_/);
    const org = await newOrg(prisma);
    const eventId = await eventFor(org.id, "entitlements.changed", 2n ** 63n - 1n);

    const result = await deliverEvents(prisma, { ...fast, orgId: org.id });
    expect(result).toMatchObject({ fannedOut: 1, delivered: 1, retried: 2, failed: 0 });

    const delivery = await prisma.eventDelivery.findUniqueOrThrow({
      where: { eventId_endpointId: { eventId, endpointId: endpoint.id } },
      include: { history: { orderBy: { attempt: "asc" } } },
    });
    expect(delivery).toMatchObject({ status: "delivered", attempts: 3, responseStatus: 200 });
    expect(delivery.responseBody).toBe(`answer 200 to ${eventId}`);
    expect(delivery.history.map((a) => [a.attempt, a.responseStatus])).toEqual([
      [1, 500],
      [2, null],
      [3, 200],
    ]);
    expect(delivery.history[1]?.error).toMatch(/timed out/);
    // Same webhook-id on every attempt, each signature verified by the standard library.
    expect(receiver.received.map((r) => r.webhookId)).toEqual([eventId, eventId, eventId]);
    expect(receiver.received.every((r) => r.verifiedWith === 0)).toBe(true);
    const body = JSON.parse(receiver.received[2]?.body ?? "{}");
    expect(body).toEqual({
      id: eventId,
      type: "entitlements.changed",
      orgId: org.id,
      occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      version: 1,
      data: { n: "9223372036854775807", at: "2026-01-01T00:00:00.000Z" },
    });

    // Nothing left: a second run sends nothing.
    expect(await deliverEvents(prisma, { ...fast, orgId: org.id })).toMatchObject({ attempts: 0 });
  });

  it("gives up after the schedule: the delivery is failed (dead letter) with its last answer kept", async () => {
    const receiver = await startReceiver(() => 503);
    const { endpoint } = await endpointFor(receiver);
    const org = await newOrg(prisma);
    const eventId = await eventFor(org.id);
    const result = await deliverEvents(prisma, { ...fast, orgId: org.id, retryDelay: (n) => (n < 3 ? 20 : null) });
    expect(result).toMatchObject({ delivered: 0, retried: 2, failed: 1 });
    const delivery = await prisma.eventDelivery.findUniqueOrThrow({ where: { eventId_endpointId: { eventId, endpointId: endpoint.id } } });
    expect(delivery).toMatchObject({ status: "failed", attempts: 3, responseStatus: 503, lastError: "HTTP 503" });
    expect(await prisma.eventDeliveryAttempt.count({ where: { deliveryId: delivery.id } })).toBe(3);
  });

  it("fans out once per (event, endpoint) with several deliverers at once, and only to subscribed, enabled endpoints", async () => {
    const receivers = await Promise.all([startReceiver(), startReceiver(), startReceiver()]);
    const [a, b] = [await endpointFor(receivers[0] as Receiver), await endpointFor(receivers[1] as Receiver, ["subscription.changed"])];
    const off = await endpointFor(receivers[2] as Receiver);
    await prisma.webhookEndpoint.update({ where: { id: off.endpoint.id }, data: { enabled: false } });
    const org = await newOrg(prisma);
    const events = await Promise.all(
      Array.from({ length: 40 }, (_, i) => eventFor(org.id, i % 2 ? "subscription.changed" : "entitlements.changed")),
    );
    const fanned = await Promise.all(Array.from({ length: 6 }, () => fanOutEvents(prisma, { orgId: org.id, batchSize: 7 })));
    // Each event is dispatched by exactly one run: the concurrent ones, then whatever they left.
    let dispatched = fanned.reduce((s, f) => s + f.events, 0);
    for (let more = 1; more > 0; dispatched += more) more = (await fanOutEvents(prisma, { orgId: org.id })).events;
    expect(dispatched).toBe(40);
    const rows = await prisma.eventDelivery.findMany({ where: { orgId: org.id }, select: { eventId: true, endpointId: true } });
    expect(rows.filter((r) => r.endpointId === a.endpoint.id)).toHaveLength(40);
    expect(rows.filter((r) => r.endpointId === b.endpoint.id)).toHaveLength(20);
    expect(rows.filter((r) => r.endpointId === off.endpoint.id)).toHaveLength(0);
    expect(new Set(rows.map((r) => `${r.eventId}/${r.endpointId}`)).size).toBe(rows.length);
    expect(await prisma.billingEvent.count({ where: { id: { in: events }, dispatchedAt: null } })).toBe(0);

    // Several senders at once: each delivery attempted exactly once (disjoint claims).
    const sent = await Promise.all(Array.from({ length: 4 }, () => deliverEvents(prisma, { ...fast, orgId: org.id, batchSize: 5 })));
    expect(sent.reduce((s, r) => s + r.delivered, 0)).toBe(60);
    expect(receivers[0]?.received).toHaveLength(40);
    expect(receivers[1]?.received).toHaveLength(20);
    expect(receivers[2]?.received).toHaveLength(0);
  });

  it("signs with the old and the new secret during the rotation window, with the new one only after it", async () => {
    const receiver = await startReceiver();
    const { endpoint, secret: oldSecret } = await endpointFor(receiver);
    const rotated = await rotateEndpointSecretAsStaff(prisma, endpoint.id, "staff:test@example.com");
    expect(rotated.secret).not.toBe(oldSecret);
    expect(rotated.endpoint.previousSecretExpiresAt?.getTime()).toBeGreaterThan(Date.now() + ROTATION_WINDOW_MS - 60_000);
    const org = await newOrg(prisma);
    await eventFor(org.id);
    await deliverEvents(prisma, { ...fast, orgId: org.id });
    const during = receiver.received.at(-1);
    expect(during?.signature.split(" ")).toHaveLength(2);
    // A receiver holding either secret verifies the same request.
    const headers = {
      "webhook-id": during?.webhookId ?? "",
      "webhook-timestamp": during?.timestamp ?? "",
      "webhook-signature": during?.signature ?? "",
    };
    expect(() => new Webhook(oldSecret).verify(during?.body ?? "", headers)).not.toThrow();
    expect(() => new Webhook(rotated.secret).verify(during?.body ?? "", headers)).not.toThrow();

    // The window over: only the new secret signs.
    await prisma.webhookEndpoint.update({ where: { id: endpoint.id }, data: { previousSecretExpiresAt: new Date(Date.now() - 1000) } });
    await eventFor(org.id);
    await deliverEvents(prisma, { ...fast, orgId: org.id });
    const after = receiver.received.at(-1);
    const afterHeaders = {
      "webhook-id": after?.webhookId ?? "",
      "webhook-timestamp": after?.timestamp ?? "",
      "webhook-signature": after?.signature ?? "",
    };
    expect(after?.signature.split(" ")).toHaveLength(1);
    expect(() => new Webhook(oldSecret).verify(after?.body ?? "", afterHeaders)).toThrow();
    expect(() => new Webhook(rotated.secret).verify(after?.body ?? "", afterHeaders)).not.toThrow();
  });

  it("sends test.ping to the one endpoint it tests", async () => {
    const [target, other] = [await startReceiver(), await startReceiver()];
    const t = await endpointFor(target);
    await endpointFor(other);
    const { eventId, deliveryId } = await sendTestEventAsStaff(prisma, t.endpoint.id, "staff:test@example.com");
    expect(await fanOutEvents(prisma, { orgId: "00000000-0000-0000-0000-000000000000" })).toMatchObject({ deliveries: 0 });
    await deliverEvents(prisma, { ...fast, orgId: "00000000-0000-0000-0000-000000000000" });
    expect(target.received.map((r) => r.webhookId)).toContain(eventId);
    expect(other.received.map((r) => r.webhookId)).not.toContain(eventId);
    expect(await prisma.eventDelivery.findUniqueOrThrow({ where: { id: deliveryId } })).toMatchObject({ status: "delivered" });
    expect(JSON.parse(target.received.find((r) => r.webhookId === eventId)?.body ?? "{}")).toMatchObject({ type: "test.ping" });
  });

  it("refuses internal URLs when saved and at send time, unless allowed", async () => {
    const strict = { allowPrivate: false };
    for (const url of [
      "http://127.0.0.1:9/x",
      "http://10.1.2.3/x",
      "http://172.16.0.1/x",
      "http://192.168.1.1/x",
      "http://169.254.169.254/latest/meta-data",
      "http://100.64.0.1/x",
      "http://0.0.0.0/x",
      "http://[::1]/x",
      "http://[fd00::1]/x",
      "http://[fe80::1]/x",
      "http://[::ffff:127.0.0.1]/x",
      "http://localhost:9/x",
      "ftp://example.com/x",
      "not a url",
    ]) {
      const before = await prisma.webhookEndpoint.count();
      await expect(
        createEndpointAsStaff(prisma, { url, eventTypes: ["entitlements.changed"] }, "staff:t@example.com", strict),
      ).rejects.toMatchObject({
        code: "BAD_REQUEST",
        reason: "endpoint_url_refused",
      });
      expect(await prisma.webhookEndpoint.count()).toBe(before);
    }
    // Saved while allowed (EVENTS_ALLOW_PRIVATE_URLS=1), then sent under the strict policy:
    // the connection is refused before it is made, and the attempt says why.
    const receiver = await startReceiver();
    const { endpoint } = await endpointFor(receiver);
    const org = await newOrg(prisma);
    const eventId = await eventFor(org.id);
    await deliverEvents(prisma, { ...fast, orgId: org.id, policy: strict, waitForRetries: false, retryDelay: () => 60_000 });
    expect(receiver.received).toHaveLength(0);
    const delivery = await prisma.eventDelivery.findUniqueOrThrow({ where: { eventId_endpointId: { eventId, endpointId: endpoint.id } } });
    expect(delivery).toMatchObject({ status: "pending", attempts: 1, responseStatus: null });
    expect(delivery.lastError).toMatch(/127\.0\.0\.1.*internal address/);
  });
});
