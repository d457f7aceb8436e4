import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { DodoBilling } from "@/server/billing/dodo/dodo-billing";
import { revokeOverrideAsStaff, setOverrideAsStaff } from "@/server/billing/limit-overrides";

import { fakeId, subscriptionPayload } from "../../tools";
import { newOrg, testDatabase } from "../helpers/db";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const dodo = new DodoBilling(prisma, billing.usage);

const eventsOf = (orgId: string) => prisma.billingEvent.findMany({ where: { orgId }, orderBy: { seq: "asc" } });
const typesOf = async (orgId: string) => (await eventsOf(orgId)).map((e) => e.type);

describe("entitlements.changed and subscription.changed", () => {
  it("are emitted once per real change of the subscription, never on a replay or a stale event", async () => {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_business" });
    const at = new Date(Date.now() - 60_000);
    const active = { id: fakeId("msg"), type: "subscription.active", timestamp: at, data: sub };
    await dodo.syncSubscription(active);
    expect(await typesOf(org.id)).toEqual(["subscription.changed", "entitlements.changed"]);
    const [subEvent, entEvent] = await eventsOf(org.id);
    expect(subEvent?.payload).toMatchObject({
      subscription: { id: sub.subscription_id, plan: "business", status: "active", graceEndsAt: null },
      previousStatus: null,
    });
    const ent = entEvent?.payload as {
      plan: string;
      subscriptionStatus: string;
      metrics: { used: unknown; limit: unknown }[];
      features: unknown[];
    };
    expect(ent).toMatchObject({ plan: "business", subscriptionStatus: "active" });
    expect(ent.features.length).toBeGreaterThan(0);
    // bigints travel as decimal strings.
    expect(typeof ent.metrics[0]?.used).toBe("string");

    // The same webhook again (a replay, a duplicate), and the same state under a new id: nothing.
    await dodo.syncSubscription(active);
    await dodo.syncSubscription({ ...active, id: fakeId("msg"), timestamp: new Date(at.getTime() + 1000) });
    expect(await eventsOf(org.id)).toHaveLength(2);

    // A real change: on hold (grace) — both events, with the previous status.
    const onHold = {
      id: fakeId("msg"),
      type: "subscription.on_hold",
      timestamp: new Date(at.getTime() + 2000),
      data: { ...sub, status: "on_hold" },
    };
    await dodo.syncSubscription(onHold);
    const after = await eventsOf(org.id);
    expect(after.map((e) => e.type)).toEqual([
      "subscription.changed",
      "entitlements.changed",
      "subscription.changed",
      "entitlements.changed",
    ]);
    expect(after[2]?.payload).toMatchObject({
      subscription: { status: "on_hold", graceEndsAt: expect.any(String) },
      previousStatus: "active",
    });
    expect(after[3]?.payload).toMatchObject({ subscriptionStatus: "on_hold", graceEndsAt: expect.any(String) });

    // An older event arriving late changes nothing and says nothing.
    await dodo.syncSubscription({ ...active, id: fakeId("msg"), timestamp: new Date(at.getTime() - 5000) });
    expect(await eventsOf(org.id)).toHaveLength(4);
  });

  it("are emitted by an admin's limit override and its revocation, once, in the same transaction", async () => {
    const org = await newOrg(prisma);
    const override = await setOverrideAsStaff(
      prisma,
      { orgId: org.id, metric: "members", kind: "hard", value: 77n, note: "events test" },
      "staff:a@example.com",
    );
    const [set] = await eventsOf(org.id);
    expect(set?.type).toBe("entitlements.changed");
    const metric = (set?.payload as { metrics: { metric: string; limit: string; overridden: boolean }[] }).metrics.find(
      (m) => m.metric === "members",
    );
    expect(metric).toMatchObject({ limit: "77", overridden: true });

    await revokeOverrideAsStaff(prisma, override.id, "staff:a@example.com");
    await revokeOverrideAsStaff(prisma, override.id, "staff:a@example.com");
    expect(await typesOf(org.id)).toEqual(["entitlements.changed", "entitlements.changed"]);

    // A bad override changes nothing, and so emits nothing.
    await expect(
      setOverrideAsStaff(prisma, { orgId: org.id, metric: "members", kind: "hard", note: "no value" }, "staff:a@example.com"),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await eventsOf(org.id)).toHaveLength(2);
  });
});
