import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import type { MeteredActionName } from "@/server/billing/actions";
import type { Metric } from "@/server/billing/catalogue";
import { effectiveLimitJoins } from "@/server/billing/usage-alerts/effective-limit-sql";

import { newOrg, newSubscription, testDatabase } from "../helpers/db";

/**
 * The usage alerts judge thresholds against the limit as SQL computes it in the write
 * statement (effective-limit-sql.ts). It must be the policy's limit, exactly: this holds the
 * two equal over every kind of subscription state and override, for a metric of each plan.
 */
const { prisma, pool } = testDatabase();

const NOW = new Date("2026-12-02T12:00:00.000Z");
const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000);
const billing = createBillingServices(prisma, { pool, clock: () => NOW });

const ACTION_OF: Partial<Record<Metric, MeteredActionName>> = {
  members: "member.add",
  teams: "team.create",
  storage_bytes: "file.upload",
  ai_requests: "ai.request",
  exports: "export.create",
};

type Sub = { productId: string; status: string; currentPeriodEnd?: Date; updatedAt?: Date } | null;
type Override = { kind: "hard" | "soft" | "unlimited"; value?: bigint; expiresAt?: Date; revoked?: boolean } | null;

const SUBSCRIPTIONS: Sub[] = [
  null,
  { productId: "pdt_billing_pro", status: "active" },
  { productId: "pdt_billing_business", status: "trialing" },
  { productId: "pdt_billing_enterprise", status: "renewed" },
  { productId: "pdt_billing_pro", status: "on_hold", updatedAt: days(-1) }, // in grace
  { productId: "pdt_billing_business", status: "past_due", updatedAt: days(-30) }, // lapsed: the plan's limits stay
  { productId: "pdt_billing_pro", status: "cancelled", currentPeriodEnd: days(3) },
  { productId: "pdt_billing_pro", status: "cancelled", currentPeriodEnd: days(-3) },
  { productId: "pdt_billing_business", status: "expired" },
  { productId: "pdt_billing_pro", status: "failed" },
  { productId: "pdt_billing_pro", status: "pending" },
  { productId: "pdt_unknown_product", status: "active" },
];
const OVERRIDES: Override[] = [
  null,
  { kind: "hard", value: 7n },
  { kind: "soft", value: 9n },
  { kind: "unlimited" },
  { kind: "hard", value: 3n, expiresAt: days(-1) },
  { kind: "hard", value: 4n, revoked: true },
];

describe("the alerts' SQL limit equals the policy's", () => {
  it("for every subscription state × override × metric", async () => {
    const mismatches: string[] = [];
    let compared = 0;
    for (const [s, sub] of SUBSCRIPTIONS.entries()) {
      for (const [o, override] of OVERRIDES.entries()) {
        const org = await newOrg(prisma);
        if (sub) await newSubscription(prisma, org.id, { ...sub, updatedAt: sub.updatedAt ?? days(-2) });
        for (const metric of Object.keys(ACTION_OF) as Metric[]) {
          if (override) {
            await prisma.limitOverride.create({
              data: {
                orgId: org.id,
                metric,
                kind: override.kind,
                value: override.value ?? null,
                expiresAt: override.expiresAt ?? null,
                revokedAt: override.revoked ? days(-1) : null,
                note: "test",
                createdBy: "test",
              },
            });
          }
          const decision = await billing.entitlements.check(org.id, ACTION_OF[metric] as MeteredActionName, { amount: 1n });
          const { rows } = await pool.query<{ limit_kind: string; limit_value: string | null }>(
            `SELECT el.limit_kind, el.limit_value::text FROM ${effectiveLimitJoins("(SELECT $1::uuid AS org_id, $2::text AS metric, $3::timestamptz AS at)", "m")}`,
            [org.id, metric, NOW],
          );
          const sql = `${rows[0]?.limit_kind} ${rows[0]?.limit_value ?? "∞"}`;
          const policy = `${decision.limitKind} ${decision.limit ?? "∞"}`;
          compared++;
          if (sql !== policy) mismatches.push(`subscription #${s}, override #${o}, ${metric}: SQL ${sql}, policy ${policy}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBe(SUBSCRIPTIONS.length * OVERRIDES.length * Object.keys(ACTION_OF).length);
  });

  it("chooses the same override on a tie of created_at, and judges expiry by the services' clock, not the database's", async () => {
    // A clock long past: an override that ends a day after it is expired by the database's
    // now() but not at the clock the services run on (a seeded history, a test).
    const past = new Date("2020-01-01T00:00:00.000Z");
    const atPast = createBillingServices(prisma, { pool, clock: () => past });
    const org = await newOrg(prisma);
    const createdAt = new Date(past.getTime() - 60_000);
    const expiresAt = new Date(past.getTime() + 86_400_000);
    const made = await Promise.all(
      [5n, 9n, 6n].map((value) =>
        prisma.limitOverride.create({
          data: { orgId: org.id, metric: "exports", kind: "hard", value, expiresAt, createdAt, note: "tie", createdBy: "test" },
        }),
      ),
    );
    // Ties are broken by id, the greatest winning, everywhere.
    const winner = made.reduce((a, b) => (a.id > b.id ? a : b));
    const decision = await atPast.entitlements.check(org.id, "export.create", { amount: 1n });
    const { rows } = await pool.query<{ limit_value: string | null }>(
      `SELECT el.limit_value::text FROM ${effectiveLimitJoins("(SELECT $1::uuid AS org_id, $2::text AS metric, $3::timestamptz AS at)", "m")}`,
      [org.id, "exports", past],
    );
    expect({ policy: decision.limit, sql: rows[0]?.limit_value }).toEqual({ policy: winner.value, sql: String(winner.value) });
  });
});
