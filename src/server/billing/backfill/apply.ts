/**
 * The apply protocol: how one organization is moved onto the ledger while live traffic
 * keeps flowing.
 *
 * Per org, in ONE transaction (READ COMMITTED):
 *   1. `INSERT … ON CONFLICT DO NOTHING` the org's usage_cache rows for the three gauges
 *      (count 0), so every gauge has a row to lock;
 *   2. lock those rows: `SELECT … FOR UPDATE`, in a fixed order (metric), like
 *      `incrementMany` does;
 *   3. THEN recount, in a new statement (so a new snapshot, taken after the locks are held):
 *      the old counts (COUNT members, COUNT teams, SUM file sizes), SUM(ledger) and the cache;
 *   4. write, in one statement: a `migration` ledger row per metric whose SUM(ledger)
 *      differs from the old count (delta = old count − SUM(ledger); actor `backfill:<run>`,
 *      idempotency key `backfill:<run>:<metric>`), the cache set to the old count (which
 *      also repairs a cache that disagreed with its own ledger), and the diff-report rows;
 *   5. COMMIT.
 *
 * Why nothing is lost or counted twice: every writer of usage changes the org's cache row
 * (`increment`'s UPDATE, `consume`'s conditional UPDATE, `incrementMany`'s FOR UPDATE), and
 * the host app's row changes that count themselves (a member insert, a file upload) happen
 * in the same transaction as their increment. So a concurrent writer either
 *   - committed before we took the lock: its member row AND its ledger row are both
 *     visible to our recount (step 3 runs after the lock, with a fresh snapshot), so its
 *     +1 is in the old count and in SUM(ledger), and cancels out of the delta; or
 *   - touches the cache row after we took it: it waits for our COMMIT, and READ COMMITTED
 *     then re-reads the row, so its increment applies on top of the corrected count and
 *     its ledger row on top of our migration row — its member row was not visible to our
 *     recount (not committed), and neither was its ledger row: both arrive together after.
 *   A writer that changed the cache row before our lock but has not committed holds the
 *   row lock itself, so step 2 waits for it: that is the first case.
 * A writer that locks two gauges in the opposite order can deadlock with step 2; PostgreSQL
 * aborts one of the two and we retry ours (so can the writer).
 *
 * `orgsPerTransaction` > 1 (`--orgs-per-tx`) runs the same steps for several orgs in one
 * transaction (locks taken in (org, metric) order, like `incrementMany`; one recount and one
 * write statement for all of them): far fewer round trips, at the price of holding those
 * orgs' cache rows for the whole group. The reasoning above holds per org unchanged.
 *
 * Orgs only come here when a screening read of their batch (one statement, so one consistent
 * snapshot, no locks: ./measure.ts) found them disagreeing; an org that agrees in a consistent
 * snapshot stays agreeing, since every writer keeps cache, ledger and host rows together.
 *
 * A killed run leaves no half-applied org: everything of an org is one transaction. The
 * idempotency key per (run, org, metric) makes a repeat within one run impossible; a
 * second run finds cache == SUM(ledger) == old count and writes nothing.
 */
import type pg from "pg";

import { PG, pgError } from "@/server/db/pg-errors";
import { isTransient } from "@/server/db/retry";

import { ledgerInsertCtesText } from "../ledger-insert-sql";
import { classify, diffColumns, diffRows } from "./diff";
import { measureOrgs } from "./measure";
import { BACKFILL_METRICS, type DiffRow } from "./types";

export class BackfillError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackfillError";
  }
}

export interface ApplyResult {
  /** Orgs that were gone by the time we locked them. */
  missing: string[];
  /** Diff rows written with the changes (measured under the lock), incl. legacy-only ones. */
  written: DiffRow[];
  /** Legacy-only rows of orgs that agreed by the time we held the lock: the caller reports them. */
  unwritten: DiffRow[];
  deltasApplied: number;
  cacheRepairs: number;
}

const MAX_ATTEMPTS = 6;
const METRICS_SORTED = [...BACKFILL_METRICS].sort();

export const migrationKey = (runId: string, metric: string) => `backfill:${runId}:${metric}`;
export const migrationActor = (runId: string) => `backfill:${runId}`;

const emptyResult = (): ApplyResult => ({ missing: [], written: [], unwritten: [], deltasApplied: 0, cacheRepairs: 0 });

function merge(into: ApplyResult, from: ApplyResult): ApplyResult {
  into.missing.push(...from.missing);
  into.written.push(...from.written);
  into.unwritten.push(...from.unwritten);
  into.deltasApplied += from.deltasApplied;
  into.cacheRepairs += from.cacheRepairs;
  return into;
}

/** Applies one org under the protocol above, retrying deadlocks. */
export function applyOrg(pool: pg.Pool, runId: string, orgId: string, legacyColumn: boolean): Promise<ApplyResult> {
  return applyOrgs(pool, runId, [orgId], legacyColumn);
}

/** Applies several orgs in ONE transaction under the protocol above, retrying deadlocks. */
export async function applyOrgs(pool: pg.Pool, runId: string, orgIds: readonly string[], legacyColumn: boolean): Promise<ApplyResult> {
  const sorted = [...orgIds].sort();
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let released = false;
    const release = (destroy: boolean) => {
      if (!released) client.release(destroy);
      released = true;
    };
    try {
      return await applyOnce(client, runId, sorted, legacyColumn);
    } catch (error) {
      let destroy = false;
      await client.query("ROLLBACK").catch(() => (destroy = true));
      release(destroy);
      const code = pgError(error)?.code;
      if (code === PG.foreignKeyViolation) {
        // An org was deleted meanwhile: one at a time, the gone one is skipped.
        if (sorted.length === 1) return { ...emptyResult(), missing: [...sorted] };
        const result = emptyResult();
        for (const orgId of sorted) merge(result, await applyOrgs(pool, runId, [orgId], legacyColumn));
        return result;
      }
      if (!isTransient(error) || attempt >= MAX_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    } finally {
      release(false);
    }
  }
}

async function applyOnce(client: pg.PoolClient, runId: string, orgIds: readonly string[], legacyColumn: boolean): Promise<ApplyResult> {
  // Every (org, gauge) pair, in lock order.
  const pairOrgs = orgIds.flatMap((orgId) => METRICS_SORTED.map(() => orgId));
  const pairMetrics = orgIds.flatMap(() => METRICS_SORTED);
  await client.query("BEGIN ISOLATION LEVEL READ COMMITTED");
  // 1. A row per gauge to lock (a first-time writer racing us waits on ON CONFLICT, or retries).
  await client.query(
    `INSERT INTO usage_cache (org_id, metric, count)
     SELECT o, m, 0 FROM unnest($1::uuid[], $2::text[]) AS p(o, m) ORDER BY o, m
     ON CONFLICT (org_id, metric) DO NOTHING`,
    [pairOrgs, pairMetrics],
  );
  // 2. Lock them: every usage writer of these orgs now waits for our COMMIT.
  await client.query(
    `SELECT 1 FROM usage_cache WHERE org_id = ANY($1::uuid[]) AND metric = ANY($2::text[]) ORDER BY org_id, metric FOR UPDATE`,
    [orgIds, METRICS_SORTED],
  );
  // 3. Recount inside the lock (a new statement: a snapshot taken after the locks).
  const states = await measureOrgs(client, orgIds, legacyColumn);
  const result = emptyResult();
  const present = new Set(states.map((o) => o.orgId));
  result.missing = orgIds.filter((id) => !present.has(id));

  const ledgerFix: { orgId: string; metric: string; delta: bigint; oldCount: bigint; ledgerSum: bigint }[] = [];
  const cacheFix: { orgId: string; metric: string; target: bigint }[] = [];
  for (const org of states) {
    const rows = diffRows(org, legacyColumn, { includeLegacyOnly: true, applied: true });
    let wrong = false;
    for (const metric of BACKFILL_METRICS) {
      const state = org.metrics[metric];
      const c = classify(state, legacyColumn);
      if (!c.billingWrong) continue;
      wrong = true;
      cacheFix.push({ orgId: org.orgId, metric, target: state.oldCount });
      if (c.delta !== 0n)
        ledgerFix.push({ orgId: org.orgId, metric, delta: c.delta, oldCount: state.oldCount, ledgerSum: state.ledgerSum });
      if (c.cacheWrong) result.cacheRepairs++;
    }
    // An org made right between the screening and our lock (by another run) gets no write.
    if (wrong) result.written.push(...rows);
    else result.unwritten.push(...rows);
  }
  if (cacheFix.length === 0) {
    await client.query("COMMIT");
    return result;
  }
  const rows = result.written;
  // 4. One statement: the migration rows, the cache (only if every ledger row went in: a key
  // already used by this run means an org was corrected before and drifted since), the report.
  const { rows: written } = await client.query<{ inserted: number; updated: number }>(
    `WITH ${ledgerInsertCtesText(
      "ins",
      `SELECT gen_random_uuid(), x.org_id, x.metric, x.delta, 'migration', 'backfill:' || $1 || ':' || x.metric, 'backfill:' || $1,
              jsonb_build_object('runId', $1::text, 'oldCount', x.old_count::text, 'ledgerBefore', x.ledger_before::text), now()
       FROM unnest($2::uuid[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) AS x(org_id, metric, delta, old_count, ledger_before)`,
    )}, upd AS (
       UPDATE usage_cache c SET count = x.target, last_updated = now()
       FROM unnest($7::uuid[], $8::text[], $9::bigint[]) AS x(org_id, metric, target)
       WHERE c.org_id = x.org_id AND c.metric = x.metric AND (SELECT count(*) FROM ins) = cardinality($3::text[])
       RETURNING 1
     ), diff AS (
       INSERT INTO backfill_diffs (run_id, org_id, metric, kind, legacy_wrong, cache_wrong, ledger_wrong, legacy_value,
                                   old_count, cache_before, ledger_before, delta_applied, cache_repaired)
       SELECT $1::uuid, d.* FROM unnest($10::uuid[], $11::text[], $12::text[], $13::bool[], $14::bool[], $15::bool[], $16::bigint[],
                                        $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bool[])
         AS d(org_id, metric, kind, legacy_wrong, cache_wrong, ledger_wrong, legacy_value, old_count, cache_before, ledger_before,
              delta_applied, cache_repaired)
       WHERE (SELECT count(*) FROM ins) = cardinality($3::text[])
       ON CONFLICT (run_id, org_id, metric) DO UPDATE SET
         kind = EXCLUDED.kind, legacy_wrong = EXCLUDED.legacy_wrong, cache_wrong = EXCLUDED.cache_wrong,
         ledger_wrong = EXCLUDED.ledger_wrong, legacy_value = EXCLUDED.legacy_value, old_count = EXCLUDED.old_count,
         cache_before = EXCLUDED.cache_before, ledger_before = EXCLUDED.ledger_before,
         delta_applied = EXCLUDED.delta_applied, cache_repaired = EXCLUDED.cache_repaired
     )
     SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM upd)::int AS updated`,
    [
      runId,
      ledgerFix.map((f) => f.orgId),
      ledgerFix.map((f) => f.metric),
      ledgerFix.map((f) => f.delta.toString()),
      ledgerFix.map((f) => f.oldCount.toString()),
      ledgerFix.map((f) => f.ledgerSum.toString()),
      cacheFix.map((f) => f.orgId),
      cacheFix.map((f) => f.metric),
      cacheFix.map((f) => f.target.toString()),
      ...diffColumns(rows),
    ],
  );
  const counts = written[0];
  if (!counts || counts.inserted !== ledgerFix.length || counts.updated !== cacheFix.length) {
    await client.query("ROLLBACK");
    throw new BackfillError(
      `organization${orgIds.length > 1 ? "s" : ""} ${orgIds.join(", ")}: this run (${runId}) already wrote migration rows ` +
        `for ${orgIds.length > 1 ? "one of them" : "it"} and the counts drifted since; start a new run to correct it`,
    );
  }
  // 5.
  await client.query("COMMIT");
  result.deltasApplied = ledgerFix.length;
  return result;
}
