import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { createCaller } from "@/server/api/root";
import { createTRPCContext } from "@/server/api/trpc";
import { deliverEvents } from "@/server/billing/events";

import { testDatabase, uniqueSuffix } from "../helpers/db";
import { startReceiver } from "../helpers/webhook-receiver";

/**
 * billing.events.* through the router: secrets only in the create and rotate answers, every
 * write audit-logged, bad input a typed error that changes nothing, deliveries listed, read
 * and replayed with the same webhook-id.
 */
const { prisma } = testDatabase();
const NIL_ORG = "00000000-0000-0000-0000-000000000000";

async function adminCaller() {
  const email = `events-${uniqueSuffix()}@staff.test`;
  const session = { user: { id: `events-${uniqueSuffix()}`, email, name: "Events", role: "admin" as const } };
  const ctx = await createTRPCContext({ headers: new Headers(), db: () => prisma, staff: async () => session });
  return { api: createCaller(ctx).billing, actor: `staff:${email}` };
}

describe("billing.events (staff)", () => {
  it("refuses bad input with typed errors and writes nothing", async () => {
    const { api, actor } = await adminCaller();
    const endpoints = await prisma.webhookEndpoint.count();
    const audits = await prisma.auditLog.count({ where: { actor } });
    await expect(api.events.createEndpoint({ url: "https://93.184.215.14/x", eventTypes: [] })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(api.events.createEndpoint({ url: "https://93.184.215.14/x", eventTypes: ["test.ping" as never] })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(api.events.createEndpoint({ url: "http://169.254.169.254/", eventTypes: ["entitlements.changed"] })).rejects.toMatchObject(
      {
        code: "BAD_REQUEST",
        message: expect.stringContaining("internal address"),
      },
    );
    await expect(api.events.rotateSecret({ id: randomUUID() })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(api.events.replay({ id: randomUUID() })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await prisma.webhookEndpoint.count()).toBe(endpoints);
    expect(await prisma.auditLog.count({ where: { actor } })).toBe(audits);
  });

  it("creates (secret once), rotates, tests, lists, reads and replays — every write audit-logged", async () => {
    const { api, actor } = await adminCaller();
    const receiver = await startReceiver();
    // The public IP is replaced by the receiver's after creation: the router refuses 127.0.0.1
    // without EVENTS_ALLOW_PRIVATE_URLS (covered above); the deliverer below allows it.
    const created = await api.events.createEndpoint({ url: "https://93.184.215.14/hook", eventTypes: ["entitlements.changed"] });
    const id = created.endpoint.id;
    try {
      expect(created.secret).toMatch(/^whsec_/);
      const listed = (await api.events.endpoints()).find((e) => e.id === id);
      expect(JSON.stringify(listed)).not.toContain(created.secret);
      await prisma.webhookEndpoint.update({ where: { id }, data: { url: receiver.url } });
      const rotated = await api.events.rotateSecret({ id });
      receiver.secrets.push(rotated.secret);
      const { eventId, deliveryId } = await api.events.sendTest({ id });
      await deliverEvents(prisma, { orgId: NIL_ORG, timeoutMs: 2000, policy: { allowPrivate: true } });
      const detail = await api.events.delivery({ id: deliveryId });
      expect(detail).toMatchObject({ status: "delivered", attempts: 1, responseStatus: 200, envelope: { id: eventId, type: "test.ping" } });
      expect(detail.history).toHaveLength(1);
      const page = await api.events.deliveries({ filter: { endpointId: id, status: "delivered" }, limit: 1 });
      expect(page.items.map((d) => d.id)).toEqual([deliveryId]);

      const replayed = await api.events.replay({ id: deliveryId });
      expect(replayed.status).toBe("pending");
      await expect(api.events.replay({ id: deliveryId })).rejects.toMatchObject({ code: "CONFLICT" });
      await deliverEvents(prisma, { orgId: NIL_ORG, timeoutMs: 2000, policy: { allowPrivate: true } });
      expect(await api.events.delivery({ id: deliveryId })).toMatchObject({ status: "delivered", attempts: 2 });
      const sent = receiver.received.filter((r) => r.webhookId === eventId);
      expect(sent).toHaveLength(2);
      expect(sent.every((r) => r.verifiedWith === 0)).toBe(true);

      const actions = (await prisma.auditLog.findMany({ where: { actor }, orderBy: { createdAt: "asc" } })).map((a) => a.action);
      expect(actions).toEqual([
        "webhook_endpoint.create",
        "webhook_endpoint.rotate_secret",
        "webhook_endpoint.send_test",
        "event_delivery.replay",
      ]);
      const audits = await prisma.auditLog.findMany({ where: { actor } });
      expect(JSON.stringify(audits)).not.toContain(created.secret.slice(6));
      expect(JSON.stringify(audits)).not.toContain(rotated.secret.slice(6));
    } finally {
      await prisma.webhookEndpoint.update({ where: { id }, data: { enabled: false } });
      await receiver.close();
    }
  });
});
