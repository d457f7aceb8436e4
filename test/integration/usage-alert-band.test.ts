import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { BillingError } from "@/server/billing/errors";
import { refreshAlertBands } from "@/server/billing/usage-alerts/alert-band";
import { viaPool } from "@/server/db/raw-query";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";

/**
 * The usage alerts' band (usage-alerts/alert-band.ts): a write inside its row's band skips the
 * alert decision, so the band must never hide a crossing. The proof here is an equivalence:
 * two orgs get the same random sequence of writes (every write path), limit overrides,
 * subscriptions, org thresholds and clock moves; one keeps its bands, the other has them
 * forgotten before every step, so it decides on every write, as before the band. Their
 * events must be identical, and the first must have decided less often.
 * Free plan: exports hard 10 per UTC hour, members hard 5 (gauge); Pro: 100 and 25.
 */
const { prisma, pool } = testDatabase();

const START = new Date("2027-01-04T10:00:00.000Z");

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed from its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  return { int, pick };
}

async function events(orgId: string): Promise<string[]> {
  const { rows } = await pool.query<{ type: string; payload: unknown; occurred_at: Date }>(
    `SELECT type, payload, occurred_at FROM billing_events WHERE org_id = $1::uuid AND type LIKE 'usage.%' ORDER BY seq`,
    [orgId],
  );
  return rows.map((r) => `${r.type} ${r.occurred_at.toISOString()} ${JSON.stringify(r.payload)}`);
}

async function decisions(orgId: string): Promise<number> {
  const { rows } = await pool.query<{ gen: string }>(`SELECT COALESCE(sum(alert_gen), 0) AS gen FROM usage_cache WHERE org_id = $1::uuid`, [
    orgId,
  ]);
  return Number(rows[0]?.gen);
}

/** One step, applied the same way to an org (its own keys and subscription id). */
type Step = (orgId: string, clock: { now: Date }, billing: ReturnType<typeof createBillingServices>) => Promise<unknown>;

function randomStep(r: ReturnType<typeof random>, n: number): { name: string; step: Step } {
  const kind = r.pick([
    "increment",
    "increment",
    "consume",
    "consume",
    "batch",
    "override",
    "revoke",
    "threshold",
    "subscription",
    "clock",
  ] as const);
  const metric = r.pick(["exports", "members"] as const);
  switch (kind) {
    case "increment": {
      const amount = BigInt(r.pick([1, 1, 2, 3, 5, -1, -2]));
      return {
        name: `increment ${metric} ${amount}`,
        // Below zero (in the row's window) is refused with a typed error, alike for both orgs.
        step: (org, _clock, billing) =>
          billing.usage.increment(org, metric, amount, "test", { idempotencyKey: `inc-${n}` }).then(
            (result) => result.count,
            (error: unknown) => (error instanceof BillingError ? error.reason : Promise.reject(error)),
          ),
      };
    }
    case "consume": {
      const action = r.pick(["export.create", "member.add", "member.add", "member.remove"] as const);
      return {
        name: `consume ${action}`,
        step: (org, _clock, billing) =>
          billing.entitlements.consume(org, action, { idempotencyKey: `consume-${n}` }).then(
            (result) => `${result.allowed} ${result.used}`,
            (error: unknown) => (error instanceof BillingError ? error.reason : Promise.reject(error)),
          ),
      };
    }
    case "batch": {
      const amounts = [r.int(1, 3), r.int(1, 3)];
      return {
        name: `incrementMany exports ${amounts.join("+")}`,
        step: (org, _clock, billing) =>
          billing.usage.incrementMany(
            amounts.map((amount, i) => ({ orgId: org, metric: "exports", amount, reason: "test", idempotencyKey: `batch-${n}-${i}` })),
          ),
      };
    }
    case "override": {
      const value = BigInt(r.int(2, 14));
      const minutes = r.pick([null, 5, 20, 90]);
      return {
        name: `override ${metric} hard ${value} for ${minutes ?? "ever"} min`,
        step: (org, clock) =>
          prisma.limitOverride.create({
            data: {
              orgId: org,
              metric,
              kind: "hard",
              value,
              note: "band test",
              createdBy: "test",
              // Unique per step: two overrides created at one instant tie, and a tie is broken
              // by id (random per org), so the two orgs could apply different ones.
              createdAt: new Date(clock.now.getTime() + n),
              expiresAt: minutes === null ? null : new Date(clock.now.getTime() + minutes * 60_000),
            },
          }),
      };
    }
    case "revoke":
      return {
        name: `revoke the newest ${metric} override`,
        step: async (org, clock) => {
          const newest = await prisma.limitOverride.findFirst({
            where: { orgId: org, metric, revokedAt: null },
            orderBy: { createdAt: "desc" },
          });
          if (newest) await prisma.limitOverride.update({ where: { id: newest.id }, data: { revokedAt: clock.now } });
        },
      };
    case "threshold": {
      const absolute = r.int(0, 1) === 1;
      const value = BigInt(absolute ? r.int(1, 12) : r.int(30, 95));
      return {
        name: `toggle ${metric} threshold ${absolute ? "#" : ""}${value}${absolute ? "" : "%"}`,
        step: async (org) => {
          const where = { orgId: org, metric, kind: absolute ? "absolute" : "percent", value };
          const existing = await prisma.usageAlertThreshold.findFirst({ where });
          if (existing) await prisma.usageAlertThreshold.delete({ where: { id: existing.id } });
          else await prisma.usageAlertThreshold.create({ data: { ...where, createdBy: "test" } });
        },
      };
    }
    case "subscription": {
      const status = r.pick(["active", "cancelled", "expired"] as const);
      const minutes = r.int(10, 120);
      return {
        name: `pro subscription ${status}, period ends in ${minutes} min`,
        step: (org, clock) => {
          const data = {
            productId: "pdt_billing_pro",
            status,
            currentPeriodStart: new Date(clock.now.getTime() - 60_000),
            currentPeriodEnd: new Date(clock.now.getTime() + minutes * 60_000),
            updatedAt: clock.now,
          };
          return prisma.subscription.upsert({
            where: { id: `sub_band_${org}` },
            create: { id: `sub_band_${org}`, orgId: org, ...data },
            update: data,
          });
        },
      };
    }
    case "clock": {
      const minutes = r.pick([1, 7, 25, 61]);
      return {
        name: `clock +${minutes} min`,
        step: async (_org, clock) => {
          clock.now = new Date(clock.now.getTime() + minutes * 60_000);
        },
      };
    }
  }
}

describe("usage alerts' band", () => {
  it("a write inside the band decides nothing; the band is the next level, and a crossing decides", async () => {
    const org = await newOrg(prisma);
    const clock = { now: START };
    const billing = createBillingServices(prisma, { pool, clock: () => clock.now });
    await billing.usage.increment(org.id, "exports", 1n, "test"); // the row's first write: no band yet, so it decides
    const band = async () =>
      (
        await pool.query<{ alert_next: string | null; alert_gen: string }>(
          `SELECT alert_next, alert_gen FROM usage_cache WHERE org_id = $1::uuid AND metric = 'exports'`,
          [org.id],
        )
      ).rows[0];
    expect(await band()).toEqual({ alert_next: "8", alert_gen: "1" }); // 80 % of 10
    for (let i = 0; i < 6; i++) await billing.usage.increment(org.id, "exports", 1n, "test"); // 2 … 7: inside
    expect(await band()).toEqual({ alert_next: "8", alert_gen: "1" });
    await billing.entitlements.consume(org.id, "export.create", { idempotencyKey: `cross-${uniqueSuffix()}` }); // 8: crosses
    expect(await band()).toEqual({ alert_next: "10", alert_gen: "2" });
    // An override moves the levels: the trigger forgets the band in the override's transaction.
    await prisma.limitOverride.create({
      data: { orgId: org.id, metric: "exports", kind: "hard", value: 9n, note: "band", createdBy: "test" },
    });
    expect(await band()).toEqual({ alert_next: null, alert_gen: "3" });
  });

  it("a band ends where the clock alone changes the limit: an override's expiry, a cancelled plan's period end", async () => {
    const crossings = async (orgId: string) =>
      (await events(orgId))
        .filter((e) => e.startsWith("usage.threshold_crossed"))
        .map((e) => Number(/"level":"(\d+)"/.exec(e)?.[1]))
        .sort((a, b) => a - b); // one write firing two levels inserts their events in no stated order
    // Members (a gauge): a hard 14 override for 10 minutes puts the levels at 12 and 14.
    const withOverride = await newOrg(prisma);
    const clock = { now: START };
    const billing = createBillingServices(prisma, { pool, clock: () => clock.now });
    await prisma.limitOverride.create({
      data: {
        orgId: withOverride.id,
        metric: "members",
        kind: "hard",
        value: 14n,
        note: "band",
        createdBy: "test",
        expiresAt: new Date(START.getTime() + 10 * 60_000),
      },
    });
    await billing.usage.increment(withOverride.id, "members", 5n, "test");
    expect(await crossings(withOverride.id)).toEqual([]);
    clock.now = new Date(START.getTime() + 11 * 60_000); // expired: the free plan's 5 (levels 4 and 5), nothing written
    await billing.usage.increment(withOverride.id, "members", 1n, "test");
    expect(await crossings(withOverride.id)).toEqual([4, 5]);

    // Exports (hourly): a cancelled Pro plan keeps its 100 until its period ends, then free's 10.
    const cancelled = await newOrg(prisma);
    clock.now = START;
    await prisma.subscription.create({
      data: {
        id: `sub_band_${uniqueSuffix()}`,
        orgId: cancelled.id,
        productId: "pdt_billing_pro",
        status: "cancelled",
        currentPeriodStart: new Date(START.getTime() - 86_400_000),
        currentPeriodEnd: new Date(START.getTime() + 10 * 60_000),
      },
    });
    await billing.usage.increment(cancelled.id, "exports", 9n, "test");
    expect(await crossings(cancelled.id)).toEqual([]);
    clock.now = new Date(START.getTime() + 11 * 60_000); // same hour, free plan now: 9 is past its 80 % (8)
    await billing.usage.increment(cancelled.id, "exports", 1n, "test");
    expect(await crossings(cancelled.id)).toEqual([8, 10]);
  });

  it("a refresh from an older state stores nothing: the row stays unknown until the next write decides", async () => {
    const org = await newOrg(prisma);
    const clock = { now: START };
    const billing = createBillingServices(prisma, { pool, clock: () => clock.now });
    await billing.usage.increment(org.id, "exports", 1n, "test");
    await pool.query(`UPDATE usage_cache SET alert_next = NULL, alert_gen = alert_gen + 1 WHERE org_id = $1::uuid`, [org.id]);
    const stale = [{ orgId: org.id, metric: "exports", gen: "1" }]; // the generation before the change
    await refreshAlertBands(viaPool(pool), stale, clock.now);
    const { rows } = await pool.query(`SELECT alert_next FROM usage_cache WHERE org_id = $1::uuid AND metric = 'exports'`, [org.id]);
    expect(rows[0]).toEqual({ alert_next: null });
    await refreshAlertBands(viaPool(pool), [{ ...stale[0]!, gen: "2" }], clock.now);
    const after = await pool.query(`SELECT alert_next FROM usage_cache WHERE org_id = $1::uuid AND metric = 'exports'`, [org.id]);
    expect(after.rows[0]).toEqual({ alert_next: "8" });
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`decides exactly as deciding on every write does (random sequence, seed ${seed})`, { timeout: 300_000 }, async () => {
      const banded = await newOrg(prisma);
      const everyWrite = await newOrg(prisma);
      const orgs = [
        { id: banded.id, clock: { now: START } },
        { id: everyWrite.id, clock: { now: START } },
      ];
      const services = orgs.map((o) => createBillingServices(prisma, { pool, clock: () => o.clock.now }));
      const r = random(seed);
      const log: string[] = [];
      for (let n = 0; n < 150; n++) {
        const { name, step } = randomStep(r, n);
        log.push(name);
        // The second org decides on every write: its bands are forgotten before each step.
        await pool.query(`UPDATE usage_cache SET alert_next = NULL WHERE org_id = $1::uuid`, [everyWrite.id]);
        const answers: unknown[] = [];
        for (const [i, o] of orgs.entries()) {
          const answer = await step(o.id, o.clock, services[i]!);
          // A write's answer (its count, a refusal); a row a setup step wrote differs by its ids.
          answers.push(typeof answer === "object" ? null : answer);
        }
        const [a, b] = [await events(banded.id), await events(everyWrite.id)];
        const context = `after step ${n} (${name}) of: ${log.join("; ")}`;
        expect(answers[0], context).toEqual(answers[1]);
        expect(a, context).toEqual(b);
      }
      // Not vacuous: alerts fired, and the banded org skipped decisions the other made.
      expect((await events(banded.id)).filter((e) => e.startsWith("usage.threshold_crossed")).length).toBeGreaterThan(0);
      expect(await decisions(banded.id)).toBeLessThan(await decisions(everyWrite.id));
    });
  }
});
