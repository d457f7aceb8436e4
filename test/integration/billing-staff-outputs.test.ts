import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { createCaller } from "@/server/api/root";
import { createTRPCContext } from "@/server/api/trpc";

import { newOrg, newSubscription, testDatabase, uniqueSuffix } from "../helpers/db";

/**
 * The staff procedures' output schemas hold for real data: every nullable, BigInt and Date
 * the organization page, the overview and the audit log read, filled in (the authorization
 * matrix calls each procedure once, mostly on an empty organization). A schema that did not
 * fit would answer INTERNAL_SERVER_ERROR here.
 */

const { prisma } = testDatabase();

/** A caller signed in as an admin (the session is injected: sign-in is tested elsewhere). */
async function adminCaller() {
  const email = `outputs-${uniqueSuffix()}@staff.test`;
  const session = { user: { id: `outputs-${uniqueSuffix()}`, email, name: "Outputs", role: "admin" as const } };
  const ctx = await createTRPCContext({ headers: new Headers(), db: () => prisma, staff: async () => session });
  return { api: createCaller(ctx).billing, actor: `staff:${email}` };
}

describe("staff procedure outputs on real data", () => {
  it("orgs.get, orgs.denials, orgs.adjust, overrides.* and audit.list answer through their schemas", async () => {
    const { api, actor } = await adminCaller();
    const org = await newOrg(prisma);
    await newSubscription(prisma, org.id, { currentPeriodStart: new Date(), currentPeriodEnd: null });
    const denial = { action: "member.add", amount: 1n, reasonCode: "limit_exceeded", message: "over", actor: "api_key:test" };
    await prisma.entitlementDenial.create({ data: { ...denial, orgId: org.id, metric: "members" } });
    // A denial for an org that does not exist (no foreign key): orgName and metric null.
    const unknownOrg = randomUUID();
    await prisma.entitlementDenial.create({ data: { ...denial, orgId: unknownOrg, metric: null } });

    const adjusted = await api.orgs.adjust({
      orgId: org.id,
      metric: "storage_bytes",
      amount: 2n ** 40n,
      note: "outputs test",
      idempotencyKey: randomUUID(),
    });
    expect(adjusted).toMatchObject({ count: 2n ** 40n, replayed: false, entry: { delta: 2n ** 40n, reason: "manual_adjustment" } });

    const hard = await api.overrides.set({
      orgId: org.id,
      metric: "members",
      kind: "hard",
      value: 7n,
      note: "outputs test",
      expiresAt: new Date(Date.now() + 60_000),
    });
    expect(hard).toMatchObject({ kind: "hard", value: 7n, revokedAt: null, createdBy: actor });
    const unlimited = await api.overrides.set({ orgId: org.id, metric: "teams", kind: "unlimited", note: "outputs test" });
    expect(unlimited).toMatchObject({ value: null, expiresAt: null });
    expect((await api.overrides.revoke({ id: unlimited.id })).revokedAt).toBeInstanceOf(Date);
    expect(await api.overrides.list({ orgId: org.id })).toHaveLength(2);

    const detail = await api.orgs.get({ orgId: org.id });
    expect(detail.subscription).toMatchObject({ productId: "pdt_billing_pro", currentPeriodEnd: null });
    expect(detail.plan.id).toBe("pro");
    expect(detail.overrides.map((o) => o.id)).toEqual([hard.id]);
    expect(detail.denials).toHaveLength(1);
    expect(detail.usage.metrics.find((m) => m.metric === "members")).toMatchObject({ limit: 7n, limitOverridden: true });
    expect(detail.series.find((s) => s.metric === "storage_bytes")?.points.at(-1)?.count).toBe(2n ** 40n);

    const denials = await api.orgs.denials({ limit: 200 });
    expect(denials.find((d) => d.orgId === unknownOrg)).toMatchObject({ orgName: null, metric: null, amount: 1n });

    const audit = await api.audit.list({ actor, limit: 10 });
    expect(audit.items.map((e) => e.action).sort()).toEqual([
      "limit_override.revoke",
      "limit_override.set",
      "limit_override.set",
      "usage.adjust",
    ]);
    expect(audit.nextCursor).toBeNull();
  });

  it("revoking an unknown API key or override is NOT_FOUND, with the domain's reason", async () => {
    const { api } = await adminCaller();
    await expect(api.apiKeys.revoke({ id: randomUUID() })).rejects.toMatchObject({
      code: "NOT_FOUND",
      cause: { reason: "api_key_not_found" },
    });
    await expect(api.overrides.revoke({ id: randomUUID() })).rejects.toMatchObject({
      code: "NOT_FOUND",
      cause: { reason: "override_not_found" },
    });
  });
});
