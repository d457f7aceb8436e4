import { describe, expect, inject, it } from "vitest";

import { insertEvent } from "@/server/billing/events";
import { createEndpointAsStaff } from "@/server/billing/events/endpoints";

import { CLI_TIMEOUT_MS, startScript } from "../helpers/cli";
import { newOrg, testDatabase } from "../helpers/db";
import { waitFor } from "../helpers/wait";
import { startReceiver } from "../helpers/webhook-receiver";

const { prisma } = testDatabase();

/**
 * A deliverer (`npm run deliver-events`, a real process) SIGKILLed while its claimed batch is
 * in flight loses nothing: the claim is a lease, and the next deliverer sends those
 * deliveries once it runs out — with the same webhook-id.
 */
describe("npm run deliver-events killed mid-batch", () => {
  it(
    "is restarted and every event is delivered, each webhook-id at least once, none lost",
    async () => {
      const receiver = await startReceiver(() => "hang");
      const { endpoint, secret } = await createEndpointAsStaff(
        prisma,
        { url: receiver.url, eventTypes: ["entitlements.changed"] },
        "staff:test@example.com",
        { allowPrivate: true },
      );
      receiver.secrets.push(secret);
      const org = await newOrg(prisma);
      const ids: string[] = [];
      for (let i = 0; i < 30; i++)
        ids.push((await insertEvent(prisma, { type: "entitlements.changed", orgId: org.id, payload: { i } })) as string);
      const env = { DATABASE_URL: inject("databaseUrl"), EVENTS_ALLOW_PRIVATE_URLS: "1", EVENTS_DELIVERY_TIMEOUT_SECONDS: "2" };
      const first = startScript("scripts/deliver-events.ts", ["--org", org.id, "--batch-size", "10"], env);
      try {
        await waitFor("the first deliverer's batch to be in flight", () => receiver.received.length >= 10, { timeoutMs: CLI_TIMEOUT_MS });
        first.child.kill("SIGKILL");
        expect((await first.exit).signal).toBe("SIGKILL");
        expect(await prisma.eventDelivery.count({ where: { orgId: org.id, status: "delivered" } })).toBe(0);

        receiver.respond = () => 200;
        const second = await startScript("scripts/deliver-events.ts", ["--org", org.id, "--batch-size", "10", "--max-wait", "90"], env)
          .exit;
        expect(second.stderr).toBe("");
        expect(second.code).toBe(0);

        const deliveries = await prisma.eventDelivery.findMany({ where: { orgId: org.id, endpointId: endpoint.id } });
        expect(deliveries).toHaveLength(30);
        expect(deliveries.every((d) => d.status === "delivered")).toBe(true);
        const acknowledged = new Set(receiver.received.filter((r) => r.answer === 200).map((r) => r.webhookId));
        expect([...acknowledged].sort()).toEqual([...ids].sort());
        // The ten that were in flight when the first was killed went again with the same ids.
        const inFlight = receiver.received.filter((r) => r.answer === "hang").map((r) => r.webhookId);
        expect(inFlight.length).toBeGreaterThanOrEqual(10);
        for (const id of inFlight) expect(acknowledged.has(id)).toBe(true);
        expect(receiver.received.every((r) => r.verifiedWith === 0)).toBe(true);
      } finally {
        first.killIfRunning();
        await prisma.webhookEndpoint.update({ where: { id: endpoint.id }, data: { enabled: false } });
        await receiver.close();
      }
    },
    CLI_TIMEOUT_MS * 2,
  );
});
