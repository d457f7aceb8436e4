import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { createDatabase } from "@/server/db/client";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";

/**
 * Usage alerts (issue #12): `usage.threshold_crossed` is decided by the statement that moves
 * the count, so it fires exactly on the level, once per threshold and window (period
 * counters) or per rise (gauges, re-armed by a fall), for every threshold a jump passes, on
 * every write path; `usage.limit_reached` once per metric and window however many denials.
 * Free plan: exports hard 10 per UTC hour (levels 8 and 10), members hard 5 (levels 4 and 5).
 */
const { prisma, pool } = testDatabase();

const HOUR = new Date("2026-12-02T10:00:00.000Z");
const at = (minutes: number) => new Date(HOUR.getTime() + minutes * 60_000);

function services(clock: { now: Date }) {
  return createBillingServices(prisma, { pool, clock: () => clock.now });
}

interface EventRow {
  type: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
}

async function eventsOf(orgId: string, type = "usage.threshold_crossed"): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>(
    `SELECT type, payload, occurred_at FROM billing_events WHERE org_id = $1::uuid AND type = $2 ORDER BY seq`,
    [orgId, type],
  );
  return rows;
}

/** "metric key @ count" per event, in order: the shape most assertions read best in. */
async function crossings(orgId: string): Promise<string[]> {
  return (await eventsOf(orgId)).map((e) => {
    const t = e.payload.threshold as { kind: string; percent?: number; count?: string };
    const key = t.kind === "percent" ? `${t.percent}%` : `#${t.count}`;
    return `${String(e.payload.metric)} ${key} @${String(e.payload.count)}`;
  });
}

async function orgThreshold(orgId: string, metric: string, kind: "percent" | "absolute", value: bigint) {
  await prisma.usageAlertThreshold.create({ data: { orgId, metric, kind, value, createdBy: "test" } });
}

describe("usage alerts", () => {
  it("a period counter: below → exactly at fires, over fires nothing more, 100 % fires once, and a new window fires again", async () => {
    const org = await newOrg(prisma);
    const clock = { now: at(5) };
    const billing = services(clock);
    await billing.usage.increment(org.id, "exports", 7n, "export_created");
    expect(await crossings(org.id)).toEqual([]);
    await billing.usage.increment(org.id, "exports", 1n, "export_created"); // 7 → 8: exactly 80 %
    expect(await crossings(org.id)).toEqual(["exports 80% @8"]);
    await billing.usage.increment(org.id, "exports", 1n, "export_created"); // 9
    await billing.usage.increment(org.id, "exports", -2n, "export_created"); // 7: a period counter does not re-arm
    await billing.usage.increment(org.id, "exports", 1n, "export_created"); // 8 again
    expect(await crossings(org.id)).toEqual(["exports 80% @8"]);
    await billing.usage.increment(org.id, "exports", 2n, "export_created"); // 10: 100 %
    expect(await crossings(org.id)).toEqual(["exports 80% @8", "exports 100% @10"]);

    const [first] = await eventsOf(org.id);
    expect(first?.payload).toMatchObject({
      metric: "exports",
      threshold: { kind: "percent", percent: 80, source: "plan" },
      level: "8",
      previousCount: "7",
      count: "8",
      limit: "10",
      limitKind: "hard",
      windowStart: HOUR.toISOString(),
    });
    expect(first?.occurred_at.toISOString()).toBe(at(5).toISOString());

    clock.now = at(65); // the next hour's window: counts start again, and so do the alerts
    await billing.usage.increment(org.id, "exports", 9n, "export_created");
    expect(await crossings(org.id)).toEqual(["exports 80% @8", "exports 100% @10", "exports 80% @9"]);
    expect((await eventsOf(org.id))[2]?.payload).toMatchObject({ previousCount: "0", windowStart: at(60).toISOString() });
  });

  it("one write that jumps over two thresholds fires one event for each; absolute and percent thresholds of the org's own", async () => {
    const org = await newOrg(prisma);
    const billing = services({ now: at(10) });
    await orgThreshold(org.id, "exports", "absolute", 3n);
    await orgThreshold(org.id, "exports", "percent", 50n);
    await orgThreshold(org.id, "exports", "percent", 80n); // the plan's too: reported once, as the org's
    await billing.usage.increment(org.id, "exports", 2n, "export_created");
    await billing.usage.increment(org.id, "exports", 8n, "export_created"); // 2 → 10: #3, 50 %, 80 %, 100 %
    expect((await crossings(org.id)).sort()).toEqual(["exports #3 @10", "exports 100% @10", "exports 50% @10", "exports 80% @10"].sort());
    const sources = (await eventsOf(org.id)).map((e) => (e.payload.threshold as { source: string }).source).sort();
    expect(sources).toEqual(["org", "org", "org", "plan"]);
  });

  it("a gauge re-arms when the count falls back below the level, and fires again on the next rise", async () => {
    const org = await newOrg(prisma);
    const billing = services({ now: at(0) });
    for (let i = 0; i < 4; i++) await billing.entitlements.consume(org.id, "member.add", { idempotencyKey: `add-${i}` });
    expect(await crossings(org.id)).toEqual(["members 80% @4"]);
    await billing.entitlements.consume(org.id, "member.remove", { idempotencyKey: "remove-0" }); // 3: re-armed
    await billing.entitlements.consume(org.id, "member.add", { idempotencyKey: "add-4" }); // 4 again
    await billing.entitlements.consume(org.id, "member.add", { idempotencyKey: "add-5" }); // 5
    expect(await crossings(org.id)).toEqual(["members 80% @4", "members 80% @4", "members 100% @5"]);
    expect((await eventsOf(org.id))[0]?.payload.windowStart).toBeNull();
  });

  it("a limit override that moves a threshold below the count fires it at the next rise, once", async () => {
    const org = await newOrg(prisma);
    const billing = services({ now: at(20) });
    await prisma.limitOverride.create({
      data: { orgId: org.id, metric: "exports", kind: "hard", value: 100n, note: "test", createdBy: "test" },
    });
    await billing.usage.increment(org.id, "exports", 50n, "export_created");
    expect(await crossings(org.id)).toEqual([]);
    await prisma.limitOverride.create({
      data: { orgId: org.id, metric: "exports", kind: "hard", value: 60n, note: "test", createdBy: "test" },
    });
    await billing.usage.increment(org.id, "exports", 1n, "export_created"); // 80 % of 60 = 48 ≤ 51
    await billing.usage.increment(org.id, "exports", 1n, "export_created");
    expect(await crossings(org.id)).toEqual(["exports 80% @51"]);
    expect((await eventsOf(org.id))[0]?.payload).toMatchObject({ level: "48", limit: "60" });
    // Unlimited: percent thresholds have nothing to be a percent of; an absolute one still fires.
    await prisma.limitOverride.create({ data: { orgId: org.id, metric: "exports", kind: "unlimited", note: "test", createdBy: "test" } });
    await orgThreshold(org.id, "exports", "absolute", 70n);
    await billing.usage.increment(org.id, "exports", 30n, "export_created");
    expect(await crossings(org.id)).toEqual(["exports 80% @51", "exports #70 @82"]);
  });

  it("incrementMany: a batch that passes both thresholds of two orgs fires one event per org and threshold", async () => {
    const [a, b] = [await newOrg(prisma), await newOrg(prisma)];
    const billing = services({ now: at(30) });
    const events = [a!, b!].flatMap((org) =>
      Array.from({ length: 10 }, (_, i) => ({
        orgId: org.id,
        metric: "exports" as const,
        amount: 1,
        reason: "export_created",
        idempotencyKey: `b-${i}`,
      })),
    );
    const result = await billing.usage.incrementMany(events);
    expect(result.every((r) => r.status === "applied")).toBe(true);
    for (const org of [a!, b!]) expect((await crossings(org.id)).sort()).toEqual(["exports 100% @10", "exports 80% @10"]);
    // A replay of the whole batch changes nothing and fires nothing.
    await billing.usage.incrementMany(events);
    for (const org of [a!, b!]) expect(await crossings(org.id)).toHaveLength(2);
    // The next hour: the batch starts the windows (their resets) and alerts in the new ones.
    const later = services({ now: at(90) });
    const next = events.slice(0, 8).map((e, i) => ({ ...e, idempotencyKey: `n-${i}` }));
    expect((await later.usage.incrementMany(next)).every((r) => r.status === "applied")).toBe(true);
    expect((await crossings(a!.id)).slice(2)).toEqual(["exports 80% @8"]);
    expect((await eventsOf(a!.id))[2]?.payload).toMatchObject({ previousCount: "0", windowStart: at(60).toISOString() });
  });

  it("32 concurrent consumes over real connections cross 80 % and 100 % once each; one limit_reached for 22 denials", async () => {
    const org = await newOrg(prisma);
    const handle = createDatabase(process.env.DATABASE_URL as string, { max: 32, applicationName: "vitest-alerts" });
    try {
      const billing = createBillingServices(handle.prisma, { pool: handle.pool, clock: () => at(40) });
      const results = await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          billing.entitlements.consume(org.id, "export.create", { idempotencyKey: `c-${i}-${uniqueSuffix()}` }),
        ),
      );
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      expect((await crossings(org.id)).sort()).toEqual(["exports 100% @10", "exports 80% @8"]);
      const reached = await eventsOf(org.id, "usage.limit_reached");
      expect(reached).toHaveLength(1);
      expect(reached[0]?.payload).toMatchObject({
        metric: "exports",
        action: "export.create",
        reason: "limit_exceeded",
        limit: "10",
        used: "10",
      });
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM entitlement_denials WHERE org_id = $1::uuid`, [
        org.id,
      ]);
      expect(rows[0]?.n).toBe(22); // every denial counted; one event sent
    } finally {
      await handle.close();
    }
  });

  it("a consume of an action that counts two metrics alerts on each metric's own thresholds", async () => {
    const org = await newOrg(prisma);
    const billing = services({ now: at(50) });
    await billing.usage.increment(org.id, "api_calls_hourly", 399n, "api_call"); // free: 500 an hour → 80 % = 400
    await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: "one" });
    expect(await crossings(org.id)).toEqual(["api_calls_hourly 80% @400"]);
  });

  it("a write that fails changes nothing: no mark, no event", async () => {
    const org = await newOrg(prisma);
    const billing = services({ now: at(55) });
    await billing.usage.increment(org.id, "members", 3n, "member_added");
    await expect(
      prisma.$transaction(async (tx) => {
        await billing.usage.increment(org.id, "members", 2n, "member_added", { tx });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await crossings(org.id)).toEqual([]);
    await billing.usage.increment(org.id, "members", 1n, "member_added"); // 4: the rolled-back crossing never happened
    expect(await crossings(org.id)).toEqual(["members 80% @4"]);
  });
});
