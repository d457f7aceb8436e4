import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { ledgerTotals } from "@/server/billing/ledger-history";
import { usageSeries } from "@/server/billing/org-insights";
import { createDatabase, type DatabaseHandle } from "@/server/db/client";
import { migrate } from "@/server/db/migrator";

import { domainTimings } from "../../scripts/bench/dashboard-at-scale";
import { checkScaleData, loadScaleData, SCALE_ACTOR, type ScaleSize } from "../../scripts/bench/dashboard-at-scale-load";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/databases";

/**
 * `npm run bench -- --only dashboard` at a tiny size: its loader must build exactly the data
 * set it describes (rows, spread, the big org's share), leave it exact (cache == SUM(ledger),
 * rollups == a rescan) with the ledger's indexes as the migrations made them, and its exactness
 * check must catch a drifted cache or rollup. The section's domain timings run on it (their
 * figures are not asserted: speed is the bench's business, not a test's).
 */

const SIZE: ScaleSize = { orgs: 12, ledgerRows: 5_000, bigOrgRows: 1_500, days: 90 };

let scratch: ScratchDatabase;
let handle: DatabaseHandle;
let indexesBefore: string[];

const query = async <T extends Record<string, unknown>>(sql: string, values: unknown[] = []) =>
  (await handle.pool.query<T>(sql, values)).rows;
const ledgerIndexes = async () =>
  (await query<{ d: string }>("SELECT indexdef AS d FROM pg_indexes WHERE tablename = 'usage_ledger' ORDER BY indexname")).map((r) => r.d);

beforeAll(async () => {
  scratch = await createScratchDatabase(inject("adminUrl"), "billing_scale");
  await migrate(scratch.url);
  handle = createDatabase(scratch.url, { max: 4, applicationName: "vitest-scale" });
  indexesBefore = await ledgerIndexes();
});

afterAll(async () => {
  await handle?.close();
  await scratch?.drop();
});

describe("dashboard at scale: the loader", () => {
  let bigOrgId: string;

  it("loads the rows it describes, one org holding its share, spread over the days", async () => {
    const loaded = await loadScaleData(handle.pool, handle.prisma, SIZE, () => {});
    bigOrgId = loaded.bigOrgId;
    const [spread] = await query<{ rows: string; big: string; orgs: string; inside: boolean; wide: boolean }>(
      `SELECT count(*)::text AS rows, count(*) FILTER (WHERE org_id = $2::uuid)::text AS big,
              count(DISTINCT org_id)::text AS orgs,
              min(timestamp) >= now() - make_interval(days => $3, mins => 10) AND max(timestamp) <= now() AS inside,
              max(timestamp) - min(timestamp) > make_interval(days => $3 - 1) AS wide
       FROM usage_ledger WHERE actor = $1`,
      [SCALE_ACTOR, bigOrgId, SIZE.days],
    );
    expect(spread).toEqual({ rows: "5000", big: "1500", orgs: "12", inside: true, wide: true });
    const [all] = await query<{ n: string }>("SELECT count(*)::text AS n FROM usage_ledger");
    expect(loaded.ledgerRows).toBe(Number(all?.n));
    expect(await ledgerIndexes()).toEqual(indexesBefore);
    // Rebuilt on every partition (a partitioned index rebuilt `ON ONLY` the parent stays
    // INVALID, and every page then scans the ledger), and the rows in their months' partitions.
    const invalid = await query<{ index: string }>(
      `SELECT x.indexrelid::regclass::text AS index FROM pg_index x
       WHERE NOT x.indisvalid AND (x.indrelid = 'usage_ledger'::regclass
         OR x.indrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'usage_ledger'::regclass))`,
    );
    expect(invalid).toEqual([]);
    expect(await query(`SELECT count(*)::int AS n FROM ledger_partitions.usage_ledger_default`)).toEqual([{ n: 0 }]);
  });

  it("leaves the cache equal to SUM(ledger) and the rollups equal to a rescan", async () => {
    const check = await checkScaleData(handle.pool);
    expect(check).toMatchObject({ cacheMismatches: 0, dailyMismatches: 0, dailyAllOrgsMismatches: 0, totalsMismatches: 0 });
    const [state] = await query<{ folded: string }>("SELECT rows_folded::text AS folded FROM usage_rollup_state");
    expect(Number(state?.folded)).toBeGreaterThanOrEqual(SIZE.ledgerRows - check.tailRows);
    // What the pages read equals a rescan: the big org's totals and its chart's last point.
    const totals = await ledgerTotals(handle.prisma, { orgId: bigOrgId });
    const rescan = await query<{ metric: string; reason: string; entries: string; total: string }>(
      `SELECT metric, reason, count(*)::text AS entries, SUM(delta)::text AS total FROM usage_ledger
       WHERE org_id = $1::uuid GROUP BY 1, 2 ORDER BY 1, 2`,
      [bigOrgId],
    );
    expect(totals.map((t) => ({ metric: t.metric, reason: t.reason, entries: String(t.entries), total: String(t.total) }))).toEqual(rescan);
    // And the Ledger page with no filter (usage_daily_totals): every org's rows.
    const all = await ledgerTotals(handle.prisma, {});
    const rescanAll = await query<{ metric: string; reason: string; entries: string; total: string }>(
      `SELECT metric, reason, count(*)::text AS entries, SUM(delta)::text AS total FROM usage_ledger GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(all.map((t) => ({ metric: t.metric, reason: t.reason, entries: String(t.entries), total: String(t.total) }))).toEqual(rescanAll);
    const series = await usageSeries(handle.prisma, bigOrgId);
    const calls = series.find((s) => s.metric === "api_calls")?.points.at(-1)?.count;
    const [cache] = await query<{ count: string }>("SELECT count::text FROM usage_cache WHERE org_id = $1::uuid AND metric = 'api_calls'", [
      bigOrgId,
    ]);
    expect(String(calls)).toBe(cache?.count);
  });

  it("runs the section's domain timings on it", async () => {
    const timings = await domainTimings(handle.prisma, bigOrgId);
    expect(timings.map((t) => t.runs.length)).toEqual(timings.map(() => 3));
    expect(timings.every((t) => Number.isFinite(t.ms))).toBe(true);
  });

  it("its exactness check catches a drifted cache, daily rollup, across-orgs daily total and total", async () => {
    await query(`UPDATE usage_cache SET count = count + 1 WHERE org_id = $1::uuid AND metric = 'api_calls'`, [bigOrgId]);
    // Rows no rescan has (a fold may not have folded anything yet on a busy shared server).
    await query(
      `INSERT INTO usage_daily (org_id, metric, day, reason, total, entries) VALUES ($1::uuid, 'api_calls', '1990-01-01', 'api_call', 1, 1)`,
      [bigOrgId],
    );
    await query(`INSERT INTO usage_rollup_totals (org_id, metric, total, entries) VALUES ($1::uuid, 'no_such_metric', 1, 1)`, [bigOrgId]);
    await query(
      `INSERT INTO usage_daily_totals (metric, day, reason, total, entries) VALUES ('api_calls', '1990-01-01', 'api_call', 1, 1)`,
    );
    expect(await checkScaleData(handle.pool)).toMatchObject({
      cacheMismatches: 1,
      dailyMismatches: 1,
      dailyAllOrgsMismatches: 1,
      totalsMismatches: 1,
    });
  });
});
