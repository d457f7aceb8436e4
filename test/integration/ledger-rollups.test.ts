import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { createBillingServices, type BillingServices } from "@/server/billing";
import { ledgerTotals, type LedgerFilter } from "@/server/billing/ledger-history";
import { usageSeries } from "@/server/billing/org-insights";
import { foldLedger } from "@/server/billing/rollup/fold";
import { checkUsageIntegrity } from "@/server/billing/rollup/integrity";
import { createDatabase, type DatabaseHandle } from "@/server/db/client";
import { migrate } from "@/server/db/migrator";
import { seedDatabase, slugPrefix } from "@/server/seed";

import { createScratchDatabase, type ScratchDatabase } from "../helpers/databases";
import { newOrg, unlimitedOverride } from "../helpers/db";

/**
 * The rollups (usage_daily, usage_daily_totals, usage_rollup_totals) must equal a rescan of the ledger whatever
 * happened: concurrent writers with folds running between them, a transaction still open
 * across a fold, a rolled-back one, window resets, bulk COPY from the seed. On a database of
 * its own, so the whole-database integrity figure is this file's alone.
 */

let scratch: ScratchDatabase;
let handle: DatabaseHandle;
let billing: BillingServices;

beforeAll(async () => {
  scratch = await createScratchDatabase(inject("adminUrl"), "billing_rollups");
  await migrate(scratch.url);
  handle = createDatabase(scratch.url, { max: 12, applicationName: "vitest-rollups" });
  billing = createBillingServices(handle.prisma, { pool: handle.pool });
});

afterAll(async () => {
  await handle?.close();
  await scratch?.drop();
});

type Row = Record<string, string>;
const query = async (sql: string, values: unknown[] = []) => (await handle.pool.query<Row>(sql, values)).rows;

/** Folds until the rollups hold every transaction up to `txId` (60 s: a loaded shared server). */
async function foldUntilPast(txId: bigint): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await foldLedger(handle.prisma);
    const [state] = await query(`SELECT through_tx_id::text AS through FROM usage_rollup_state`);
    if (BigInt(state!.through!) > txId) return;
    if (Date.now() > deadline) throw new Error(`the fold stayed at ${state!.through} (waiting past ${txId})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The rollups read back (folded rows + the unfolded tail), against GROUP BY over the whole
 * ledger. Always with the tail: a fold only takes transactions older than the oldest one
 * running on the whole server (other databases included), so some rows may stay unfolded.
 */
async function rollupVersusRescan(): Promise<{ daily: [Row[], Row[]]; totals: [Row[], Row[]]; dailyAllOrgs: [Row[], Row[]] }> {
  const daily = `SELECT org_id::text, metric, day::text, reason, SUM(total)::text AS total, SUM(entries)::text AS entries FROM (
      SELECT org_id, metric, day, reason, total, entries FROM usage_daily
      UNION ALL
      SELECT org_id, metric, (timestamp AT TIME ZONE 'UTC')::date, reason, delta, 1 FROM usage_ledger
      WHERE tx_id >= (SELECT through_tx_id FROM usage_rollup_state) OR (tx_id IS NULL AND (SELECT through_tx_id FROM usage_rollup_state) = 0)
    ) x GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
  const rescanDaily = `SELECT org_id::text, metric, (timestamp AT TIME ZONE 'UTC')::date::text AS day, reason,
      SUM(delta)::text AS total, count(*)::text AS entries FROM usage_ledger GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
  const totals = `SELECT org_id::text, metric, SUM(total)::text AS total FROM (
      SELECT org_id, metric, total FROM usage_rollup_totals
      UNION ALL
      SELECT org_id, metric, delta FROM usage_ledger
      WHERE tx_id >= (SELECT through_tx_id FROM usage_rollup_state) OR (tx_id IS NULL AND (SELECT through_tx_id FROM usage_rollup_state) = 0)
    ) x GROUP BY 1, 2 ORDER BY 1, 2`;
  const rescanTotals = `SELECT org_id::text, metric, SUM(delta)::text AS total FROM usage_ledger GROUP BY 1, 2 ORDER BY 1, 2`;
  const dailyAllOrgs = `SELECT metric, day::text, reason, SUM(total)::text AS total, SUM(entries)::text AS entries FROM (
      SELECT metric, day, reason, total, entries FROM usage_daily_totals
      UNION ALL
      SELECT metric, (timestamp AT TIME ZONE 'UTC')::date, reason, delta, 1 FROM usage_ledger
      WHERE tx_id >= (SELECT through_tx_id FROM usage_rollup_state) OR (tx_id IS NULL AND (SELECT through_tx_id FROM usage_rollup_state) = 0)
    ) x GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
  const rescanDailyAllOrgs = `SELECT metric, (timestamp AT TIME ZONE 'UTC')::date::text AS day, reason,
      SUM(delta)::text AS total, count(*)::text AS entries FROM usage_ledger GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
  return {
    daily: [await query(daily), await query(rescanDaily)],
    totals: [await query(totals), await query(rescanTotals)],
    dailyAllOrgs: [await query(dailyAllOrgs), await query(rescanDailyAllOrgs)],
  };
}

describe("ledger rollups", () => {
  it("equal a rescan after concurrent writers with folds running among them, and the integrity check is incremental", async () => {
    const orgs = await Promise.all(Array.from({ length: 4 }, () => newOrg(handle.prisma)));
    for (const org of orgs) {
      await unlimitedOverride(handle.prisma, org.id, "api_calls");
      await unlimitedOverride(handle.prisma, org.id, "api_calls_hourly");
    }
    let writing = true;
    // Fold attempts among the writers. How many actually fold depends on every other open
    // transaction on the server (the bound is the server-wide xmin), so only the attempts are counted.
    let foldAttempts = 0;
    const folder = (async () => {
      while (writing) {
        await foldLedger(handle.prisma);
        foldAttempts++;
      }
    })();
    // 8 writers on real parallel connections: increments, consumes and batches on shared orgs.
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 25; i++) {
          const org = orgs[(w + i) % orgs.length]!.id;
          if (i % 3 === 0) await billing.usage.increment(org, "storage_bytes", BigInt(1 + i), "file_upload");
          else if (i % 3 === 1) await billing.entitlements.consume(org, "api.call", { idempotencyKey: `w${w}-${i}` });
          else
            await billing.usage.incrementMany(
              orgs.map((o) => ({
                orgId: o.id,
                metric: "ai_requests",
                amount: 2,
                reason: "ai_request",
                idempotencyKey: `b${w}-${i}-${o.id}`,
              })),
            );
        }
      }),
    );
    writing = false;
    await folder;
    expect(foldAttempts).toBeGreaterThan(1);

    const before = await rollupVersusRescan();
    expect(before.daily[0]).toEqual(before.daily[1]);
    expect(before.dailyAllOrgs[0]).toEqual(before.dailyAllOrgs[1]);
    await foldLedger(handle.prisma);
    const after = await rollupVersusRescan();
    expect(after.daily[0]).toEqual(after.daily[1]);
    expect(after.totals[0]).toEqual(after.totals[1]);
    expect(after.dailyAllOrgs[0]).toEqual(after.dailyAllOrgs[1]);
    expect(after.dailyAllOrgs[0].length).toBeGreaterThan(0);

    const integrity = await checkUsageIntegrity(handle.prisma);
    expect(integrity.mismatches).toBe(0);
    // It read only the unfolded rows (none, unless a transaction elsewhere on the server held the fold back).
    const [tail] = await query(`SELECT count(*)::int AS n FROM usage_ledger WHERE tx_id >= (SELECT through_tx_id FROM usage_rollup_state)`);
    expect(integrity.tailRows).toBe(Number(tail?.n));
    expect(integrity.pairsChecked).toBeGreaterThanOrEqual(orgs.length * 4);
    // A cache row off by one is found, without a rescan.
    await query(`UPDATE usage_cache SET count = count + 1 WHERE org_id = $1::uuid AND metric = 'storage_bytes'`, [orgs[0]!.id]);
    expect((await checkUsageIntegrity(handle.prisma)).mismatches).toBe(1);
    await query(`UPDATE usage_cache SET count = count - 1 WHERE org_id = $1::uuid AND metric = 'storage_bytes'`, [orgs[0]!.id]);
  });

  it("never folds a transaction still open, takes it once it commits, and never sees a rolled-back one", async () => {
    const org = await newOrg(handle.prisma);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let written: () => void = () => undefined;
    const wrote = new Promise<void>((resolve) => (written = resolve));
    const open = handle.prisma.$transaction(
      async (tx) => {
        await billing.usage.increment(org.id, "teams", 3n, "team_created", { tx });
        written();
        await held;
      },
      { timeout: 60_000 },
    );
    await wrote;
    await foldLedger(handle.prisma); // the open transaction's row must stay out of the fold
    await billing.usage.increment(org.id, "members", 1n, "member_added"); // a later, committed row (another metric: teams is locked by the open one)
    await foldLedger(handle.prisma);
    release();
    await open;
    await handle.prisma
      .$transaction(async (tx) => {
        await billing.usage.increment(org.id, "teams", 100n, "team_created", { tx });
        throw new Error("roll back");
      })
      .catch(() => undefined);
    // Another test file's open transaction anywhere on the server holds the fold's bound back:
    // fold until the committed row is below it (a condition, not a single try).
    const [own] = await query(`SELECT max(tx_id)::text AS tx FROM usage_ledger WHERE org_id = $1::uuid AND metric = 'teams'`, [org.id]);
    await foldUntilPast(BigInt(own!.tx!));
    const [teams] = await query(`SELECT total::text, entries::text FROM usage_rollup_totals WHERE org_id = $1::uuid AND metric = 'teams'`, [
      org.id,
    ]);
    expect(teams).toEqual({ total: "3", entries: "1" }); // the open transaction's 3; the rolled-back 100 never
    const check = await rollupVersusRescan();
    expect(check.daily[0]).toEqual(check.daily[1]);
    expect(check.dailyAllOrgs[0]).toEqual(check.dailyAllOrgs[1]);
  });

  it("equal a rescan after window resets and after the seed's COPY, and the org chart reads them exactly", async () => {
    const org = await newOrg(handle.prisma);
    await unlimitedOverride(handle.prisma, org.id, "ai_requests");
    const days = [new Date("2026-11-28T23:30:00Z"), new Date("2026-11-29T00:30:00Z"), new Date("2026-11-30T12:00:00Z")];
    for (const [i, now] of days.entries()) {
      const clocked = createBillingServices(handle.prisma, { pool: handle.pool, clock: () => now });
      // ai_requests counts per day: the 2nd and 3rd writes start new windows (window_reset rows).
      await clocked.usage.increment(org.id, "ai_requests", BigInt(5 + i), "ai_request", { idempotencyKey: `day-${i}` });
    }
    const seed = 7_000 + Math.floor(Math.random() * 1_000_000);
    await seedDatabase(handle.pool, { orgs: 6, seed, batchSize: 3 });
    expect((await query(`SELECT count(*)::int AS n FROM organizations WHERE slug LIKE $1`, [`${slugPrefix(seed)}%`]))[0]).toEqual({ n: 6 });

    const chartBefore = await usageSeries(handle.prisma, org.id, { now: days[2], days: 5 });
    await foldLedger(handle.prisma);
    const chartAfter = await usageSeries(handle.prisma, org.id, { now: days[2], days: 5 });
    expect(chartAfter).toEqual(chartBefore);
    const ai = chartAfter.find((s) => s.metric === "ai_requests")?.points.map((p) => [p.day, p.count]);
    // Per UTC day the count of that day's window: 5, then the reset and 6, then the reset and 7.
    expect(ai).toEqual([
      ["2026-11-26", 0n],
      ["2026-11-27", 0n],
      ["2026-11-28", 5n],
      ["2026-11-29", 6n],
      ["2026-11-30", 7n],
    ]);
    const check = await rollupVersusRescan();
    expect(check.daily[0]).toEqual(check.daily[1]);
    expect(check.totals[0]).toEqual(check.totals[1]);
    expect(check.dailyAllOrgs[0]).toEqual(check.dailyAllOrgs[1]);
    expect((await checkUsageIntegrity(handle.prisma)).mismatches).toBe(0);
  });

  it("give the Ledger page's totals per (metric, reason) exactly, for whole and partial days, folded or not", async () => {
    const org = await newOrg(handle.prisma);
    await unlimitedOverride(handle.prisma, org.id, "ai_requests");
    const at = (iso: string) => createBillingServices(handle.prisma, { pool: handle.pool, clock: () => new Date(iso) }).usage;
    await at("2026-10-01T08:00:00Z").increment(org.id, "storage_bytes", 2n ** 62n, "file_upload");
    await at("2026-10-01T20:00:00Z").increment(org.id, "storage_bytes", -5n, "file_delete");
    await at("2026-10-02T10:00:00Z").increment(org.id, "storage_bytes", 2n ** 62n - 7n, "file_upload"); // a day's file_upload sum passes 2^63 - 1 with the next
    await at("2026-10-02T11:00:00Z").increment(org.id, "members", 3n, "member_added");
    await at("2026-10-03T02:00:00Z").increment(org.id, "members", -1n, "member_removed");
    await at("2026-10-03T23:59:59Z").increment(org.id, "teams", 2n, "team_created");

    const scan = async (filter: LedgerFilter) => {
      const where: string[] = ["TRUE"];
      const values: unknown[] = [];
      if (filter.orgId) where.push(`org_id = $${values.push(filter.orgId)}::uuid`);
      if (filter.metric) where.push(`metric = $${values.push(filter.metric)}`);
      if (filter.reason) where.push(`reason = $${values.push(filter.reason)}`);
      if (filter.from) where.push(`timestamp >= $${values.push(filter.from)}`);
      if (filter.to) where.push(`timestamp < $${values.push(filter.to)}`);
      const rows = await query(
        `SELECT metric, reason, count(*)::text AS entries, SUM(delta)::text AS total FROM usage_ledger WHERE ${where.join(" AND ")}
         GROUP BY 1, 2 ORDER BY 1, 2`,
        values,
      );
      return rows.map((r) => ({ metric: r.metric, reason: r.reason, entries: BigInt(r.entries!), total: BigInt(r.total!) }));
    };
    const filters: LedgerFilter[] = [
      { orgId: org.id },
      { orgId: org.id, metric: "storage_bytes" },
      { orgId: org.id, reason: "file_upload" },
      { orgId: org.id, from: new Date("2026-10-01T12:00:00Z"), to: new Date("2026-10-03T12:00:00Z") },
      { orgId: org.id, from: new Date("2026-10-02T00:00:00Z") },
      { orgId: org.id, to: new Date("2026-10-02T10:30:00Z") },
      { orgId: org.id, from: new Date("2026-10-03T01:00:00Z"), to: new Date("2026-10-03T03:00:00Z") },
      // Without an org: every org's rows of this file's database (usage_daily_totals).
      {},
      { metric: "storage_bytes" },
      { reason: "file_upload" },
      { from: new Date("2026-10-01T12:00:00Z"), to: new Date("2026-10-03T12:00:00Z") },
      { metric: "members", from: new Date("2026-10-02T00:00:00Z") },
    ];
    for (const stage of ["unfolded", "folded"]) {
      if (stage === "folded") await foldLedger(handle.prisma);
      for (const filter of filters)
        expect(await ledgerTotals(handle.prisma, filter), `${stage} ${JSON.stringify(filter)}`).toEqual(await scan(filter));
    }
    expect((await ledgerTotals(handle.prisma, { orgId: org.id, reason: "file_upload" }))[0]?.total).toBe(2n ** 63n - 7n);
  });
});

describe("the tail's planner bound (read before the statement)", () => {
  /**
   * `db` whose first raw query (the tail's bound, read before the statement) is followed by a
   * fold: the rows the bound still calls unfolded are folded before the statement runs. The
   * statement must count them once — from the rollups, not again from the tail.
   */
  function foldingAfterFirstRead(): { db: typeof handle.prisma; folds: () => number } {
    let reads = 0;
    let folds = 0;
    const db = new Proxy(handle.prisma, {
      get(target, property) {
        if (property !== "$queryRaw") return Reflect.get(target, property) as unknown;
        return async (...args: Parameters<typeof target.$queryRaw>) => {
          const result = await target.$queryRaw(...args);
          if (reads++ === 0) {
            const folded = await foldLedger(handle.prisma);
            if (folded.folded && folded.rows > 0n) folds++;
          }
          return result;
        };
      },
    });
    return { db, folds: () => folds };
  }

  it("counts every row once when a fold lands between the bound's read and the statement", async () => {
    const org = await newOrg(handle.prisma);
    const fold = async () => {
      for (let i = 0; i < 20 && (await foldLedger(handle.prisma)).folded; i++);
    };
    const reads: [string, (db: typeof handle.prisma) => Promise<unknown>][] = [
      ["ledger totals, one org", (db) => ledgerTotals(db, { orgId: org.id })],
      ["ledger totals, all orgs", (db) => ledgerTotals(db, {})],
      ["integrity", (db) => checkUsageIntegrity(db).then((c) => c.mismatches)],
      ["org chart", (db) => usageSeries(db, org.id, { now: new Date("2026-11-30T12:00:00Z"), days: 3 })],
    ];
    for (const [name, read] of reads) {
      // Unfolded rows of committed transactions: the next fold takes them (unless a transaction
      // elsewhere on the server holds the bound back; then no fold happens, and the test retries).
      let raced = false;
      const deadline = Date.now() + 60_000; // a loaded shared server: a condition, not a number of tries
      for (let attempt = 0; !raced && Date.now() < deadline; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        await fold();
        const at = createBillingServices(handle.prisma, { pool: handle.pool, clock: () => new Date("2026-11-29T10:00:00Z") }).usage;
        await at.increment(org.id, "storage_bytes", 7n, "file_upload");
        await at.increment(org.id, "members", 1n, "member_added");
        const expected = await read(handle.prisma);
        const racing = foldingAfterFirstRead();
        const got = await read(racing.db);
        expect(got, `${name}, attempt ${attempt}`).toEqual(expected);
        raced = racing.folds() > 0;
      }
      expect(raced, `${name}: a fold landed between the bound's read and the statement`).toBe(true);
    }
  });
});
