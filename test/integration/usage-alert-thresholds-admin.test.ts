import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { addOrgAlertThreshold, listOrgAlertThresholds, removeOrgAlertThreshold } from "@/server/billing/usage-alerts/org-thresholds";
import type { PrismaClient } from "@/server/db/client";

import { newOrg, testDatabase } from "../helpers/db";

/**
 * An org's own usage-alert thresholds as staff manage them (issue #12): add, list and remove
 * through the domain, each write with its audit row in the same transaction, every bad input a
 * typed error that changes nothing, and a threshold added here is one the alert SQL fires on.
 */
const { prisma, pool } = testDatabase();

const ACTOR = "staff:thresholds@example.com";

const auditOf = (targetId: string) =>
  prisma.auditLog.findMany({ where: { targetType: "usage_alert_threshold", targetId }, orderBy: { createdAt: "asc" } });

/** Every threshold row and audit row of the org, to show a refused write changed neither. */
async function stateOf(orgId: string) {
  const thresholds = await prisma.usageAlertThreshold.findMany({ where: { orgId }, orderBy: { value: "asc" } });
  const audits = await prisma.auditLog.count({
    where: { targetType: "usage_alert_threshold", targetId: { in: thresholds.map((t) => t.id) } },
  });
  const byActor = await prisma.auditLog.count({ where: { actor: ACTOR, targetType: "usage_alert_threshold" } });
  return { thresholds, audits, byActor };
}

describe("org usage-alert thresholds (admin)", () => {
  it("adds, lists and removes thresholds, each write with an audit row", async () => {
    const org = await newOrg(prisma);
    const pct = await addOrgAlertThreshold(prisma, { orgId: org.id, metric: "exports", kind: "percent", value: 50 }, ACTOR);
    const abs = await addOrgAlertThreshold(prisma, { orgId: org.id, metric: "exports", kind: "absolute", value: "3" }, ACTOR);
    const big = await addOrgAlertThreshold(
      prisma,
      { orgId: org.id, metric: "storage_bytes", kind: "absolute", value: 9_000_000_000_000_000_000n },
      ACTOR,
    );
    expect(pct).toMatchObject({ orgId: org.id, metric: "exports", kind: "percent", value: 50n, createdBy: ACTOR });
    expect(big.value).toBe(9_000_000_000_000_000_000n);

    const listed = await listOrgAlertThresholds(prisma, org.id.toUpperCase());
    expect(listed.map((t) => `${t.metric} ${t.kind} ${t.value}`)).toEqual([
      "exports absolute 3",
      "exports percent 50",
      "storage_bytes absolute 9000000000000000000",
    ]);
    expect(await auditOf(pct.id)).toMatchObject([
      { actor: ACTOR, action: "usage_alert_threshold.add", before: null, after: { metric: "exports", kind: "percent", value: "50" } },
    ]);

    // By id, and by what it is.
    await removeOrgAlertThreshold(prisma, { id: pct.id }, ACTOR);
    await removeOrgAlertThreshold(prisma, { orgId: org.id, metric: "exports", kind: "absolute", value: 3n }, ACTOR);
    expect((await listOrgAlertThresholds(prisma, org.id)).map((t) => t.id)).toEqual([big.id]);
    expect((await auditOf(abs.id)).map((a) => a.action)).toEqual(["usage_alert_threshold.add", "usage_alert_threshold.remove"]);
    expect((await auditOf(pct.id))[1]).toMatchObject({ before: { id: pct.id, value: "50" }, after: null });

    // Removing it again: NOT_FOUND, and no audit row.
    await expect(removeOrgAlertThreshold(prisma, { id: pct.id }, ACTOR)).rejects.toMatchObject({
      code: "NOT_FOUND",
      reason: "threshold_not_found",
    });
    expect(await auditOf(pct.id)).toHaveLength(2);
  });

  it("refuses bad input with a typed error and changes nothing", async () => {
    const org = await newOrg(prisma);
    await addOrgAlertThreshold(prisma, { orgId: org.id, metric: "members", kind: "percent", value: 90 }, ACTOR);
    const before = await stateOf(org.id);
    const add = (input: Record<string, unknown>) =>
      addOrgAlertThreshold(prisma, { orgId: org.id, metric: "members", kind: "percent", value: 50, ...input } as never, ACTOR);

    const refused: [Record<string, unknown>, string, string][] = [
      [{ metric: "no_such_metric" }, "BAD_REQUEST", "invalid_input"],
      [{ kind: "ratio" }, "BAD_REQUEST", "invalid_input"],
      [{ value: 0 }, "BAD_REQUEST", "invalid_input"],
      [{ value: 1001 }, "BAD_REQUEST", "invalid_input"],
      [{ value: 12.5 }, "BAD_REQUEST", "invalid_input"],
      [{ value: -3 }, "BAD_REQUEST", "invalid_input"],
      [{ kind: "absolute", value: 0n }, "BAD_REQUEST", "invalid_input"],
      [{ kind: "absolute", value: -1n }, "BAD_REQUEST", "invalid_input"],
      [{ kind: "absolute", value: "99999999999999999999" }, "BAD_REQUEST", "invalid_input"],
      [{ orgId: "not-a-uuid" }, "BAD_REQUEST", "invalid_input"],
      [{ orgId: randomUUID() }, "NOT_FOUND", "org_not_found"],
      [{ value: 90 }, "CONFLICT", "threshold_exists"],
    ];
    for (const [input, code, reason] of refused) {
      await expect(
        add(input),
        JSON.stringify(input, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)),
      ).rejects.toMatchObject({
        name: "BillingError",
        code,
        reason,
      });
    }
    await expect(
      addOrgAlertThreshold(prisma, { orgId: org.id, metric: "members", kind: "percent", value: 60 }, "  "),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(listOrgAlertThresholds(prisma, randomUUID())).rejects.toMatchObject({ code: "NOT_FOUND", reason: "org_not_found" });
    await expect(removeOrgAlertThreshold(prisma, { id: randomUUID() }, ACTOR)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      removeOrgAlertThreshold(prisma, { orgId: org.id, metric: "members", kind: "percent", value: 0 }, ACTOR),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await stateOf(org.id)).toEqual(before);
  });

  it("a write whose audit row fails is rolled back with it (one transaction)", async () => {
    const org = await newOrg(prisma);
    // The real client, except that the audit insert inside the transaction fails.
    const failingAudit = {
      $transaction: <T>(work: (tx: unknown) => Promise<T>) =>
        prisma.$transaction((tx) =>
          work(
            new Proxy(tx, {
              get: (target, key, receiver) =>
                key === "auditLog"
                  ? { create: () => Promise.reject(new Error("audit insert failed")) }
                  : (Reflect.get(target, key, receiver) as unknown),
            }),
          ),
        ),
    } as unknown as PrismaClient;

    await expect(
      addOrgAlertThreshold(failingAudit, { orgId: org.id, metric: "exports", kind: "absolute", value: 4n }, ACTOR),
    ).rejects.toThrow("audit insert failed");
    expect(await prisma.usageAlertThreshold.count({ where: { orgId: org.id } })).toBe(0);

    const kept = await addOrgAlertThreshold(prisma, { orgId: org.id, metric: "exports", kind: "absolute", value: 4n }, ACTOR);
    await expect(removeOrgAlertThreshold(failingAudit, { id: kept.id }, ACTOR)).rejects.toThrow("audit insert failed");
    expect((await listOrgAlertThresholds(prisma, org.id)).map((t) => t.id)).toEqual([kept.id]);
  });

  it("a threshold added through the service fires usage.threshold_crossed (source org) when usage crosses it", async () => {
    const org = await newOrg(prisma);
    const billing = createBillingServices(prisma, { pool, clock: () => new Date("2026-12-02T10:05:00.000Z") });
    // Free plan: exports hard 10 per hour, plan levels 8 (80 %) and 10 (100 %).
    await addOrgAlertThreshold(prisma, { orgId: org.id, metric: "exports", kind: "absolute", value: 3n }, ACTOR);
    await addOrgAlertThreshold(prisma, { orgId: org.id, metric: "exports", kind: "percent", value: 50n }, ACTOR);
    await billing.usage.increment(org.id, "exports", 2n, "export_created"); // 2: below both
    const crossed = async () =>
      (
        await pool.query<{ payload: { threshold: Record<string, unknown>; count: string } }>(
          `SELECT payload FROM billing_events WHERE org_id = $1::uuid AND type = 'usage.threshold_crossed' ORDER BY seq`,
          [org.id],
        )
      ).rows.map((r) => r.payload);
    expect(await crossed()).toEqual([]);
    await billing.usage.increment(org.id, "exports", 1n, "export_created"); // 3: the org's #3
    expect(await crossed()).toMatchObject([{ threshold: { kind: "absolute", source: "org" }, count: "3" }]);
    await billing.usage.increment(org.id, "exports", 2n, "export_created"); // 5: the org's 50 %
    expect(await crossed()).toMatchObject([
      { threshold: { kind: "absolute", source: "org" } },
      { threshold: { kind: "percent", percent: 50, source: "org" }, count: "5" },
    ]);
  });
});
