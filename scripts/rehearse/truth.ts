import type pg from "pg";

import { RehearsalError } from "./errors";

/**
 * The rehearsal's own count of the truth, independent of the backfill's code: set-based
 * SQL, each question ONE statement (one snapshot), over every organization.
 */

const GAUGES = `ARRAY['members', 'teams', 'storage_bytes']`;

/** The old counts per (org, gauge), the slow way: COUNT members, COUNT teams, SUM file sizes. */
const OLD_COUNTS = `
  SELECT o.id AS org_id, g.metric,
         COALESCE(CASE g.metric WHEN 'members' THEN mc.n WHEN 'teams' THEN tc.n ELSE fc.n END, 0)::bigint AS old_count
  FROM organizations o
  CROSS JOIN unnest(${GAUGES}) AS g(metric)
  LEFT JOIN (SELECT org_id, count(*) AS n FROM members GROUP BY org_id) mc ON mc.org_id = o.id
  LEFT JOIN (SELECT org_id, count(*) AS n FROM teams GROUP BY org_id) tc ON tc.org_id = o.id
  LEFT JOIN (SELECT org_id, sum(size_bytes) AS n FROM stored_files GROUP BY org_id) fc ON fc.org_id = o.id`;

export interface HostTotals {
  orgs: number;
  members: number;
  teams: number;
  files: number;
  storageBytes: bigint;
  /** (org, gauge) pairs whose old count is not zero: what a fresh ledger must learn. */
  nonZeroPairs: number;
}

export async function hostTotals(db: pg.Pool): Promise<HostTotals> {
  const { rows } = await db.query<{ orgs: number; members: number; teams: number; files: number; bytes: string; non_zero: number }>(
    `SELECT (SELECT count(*) FROM organizations)::int AS orgs, (SELECT count(*) FROM members)::int AS members,
            (SELECT count(*) FROM teams)::int AS teams, (SELECT count(*) FROM stored_files)::int AS files,
            (SELECT COALESCE(sum(size_bytes), 0) FROM stored_files)::text AS bytes,
            (SELECT count(*) FROM (${OLD_COUNTS}) t WHERE old_count <> 0)::int AS non_zero`,
  );
  const r = rows[0];
  if (!r) throw new RehearsalError("the host totals query returned no row");
  return { orgs: r.orgs, members: r.members, teams: r.teams, files: r.files, storageBytes: BigInt(r.bytes), nonZeroPairs: r.non_zero };
}

/** (org, gauge) pairs whose legacy `organizations.usage` value differs from the old count. */
export async function legacyDriftPairs(db: pg.Pool): Promise<{ pairs: number; orgs: number }> {
  const { rows } = await db.query<{ pairs: number; orgs: number }>(
    `SELECT count(*)::int AS pairs, count(DISTINCT t.org_id)::int AS orgs
     FROM (${OLD_COUNTS}) t JOIN organizations o ON o.id = t.org_id
     WHERE (o.usage ->> t.metric) IS DISTINCT FROM t.old_count::text`,
  );
  return rows[0] ?? { pairs: 0, orgs: 0 };
}

export interface Agreement {
  /** (org, gauge) pairs compared. */
  pairs: number;
  /** Pairs where cache, SUM(ledger) and the old count are not all equal. */
  mismatches: number;
  /** (org, metric) pairs of ANY metric (api_calls too) where cache ≠ SUM(ledger): invariant 1. */
  cacheLedgerDrift: number;
  /** A few mismatching pairs, for the report. */
  examples: string[];
}

/** cache == SUM(ledger) == old count for every org and gauge, and cache == SUM(ledger) everywhere. */
export async function agreement(db: pg.Pool): Promise<Agreement> {
  const { rows } = await db.query<{ pairs: number; mismatches: number; drift: number; examples: string[] | null }>(
    `WITH ledger AS (SELECT org_id, metric, sum(delta) AS total FROM usage_ledger GROUP BY org_id, metric),
     pairs AS (
       SELECT t.org_id, t.metric, t.old_count, COALESCE(c.count, 0) AS cache, COALESCE(l.total, 0) AS ledger
       FROM (${OLD_COUNTS}) t
       LEFT JOIN usage_cache c ON c.org_id = t.org_id AND c.metric = t.metric
       LEFT JOIN ledger l ON l.org_id = t.org_id AND l.metric = t.metric)
     SELECT (SELECT count(*) FROM pairs)::int AS pairs,
            (SELECT count(*) FROM pairs WHERE cache <> ledger OR ledger <> old_count)::int AS mismatches,
            (SELECT count(*) FROM usage_cache c FULL JOIN ledger l ON l.org_id = c.org_id AND l.metric = c.metric
              WHERE COALESCE(c.count, 0) <> COALESCE(l.total, 0))::int AS drift,
            (SELECT array_agg(e) FROM (
               SELECT format('%s %s: old count %s, cache %s, SUM(ledger) %s', org_id, metric, old_count, cache, ledger) AS e
               FROM pairs WHERE cache <> ledger OR ledger <> old_count ORDER BY org_id, metric LIMIT 5) x) AS examples`,
  );
  const r = rows[0];
  return { pairs: r?.pairs ?? 0, mismatches: r?.mismatches ?? 0, cacheLedgerDrift: r?.drift ?? 0, examples: r?.examples ?? [] };
}

/** Whether a table / the legacy column exists (the migration state the phases expect). */
export async function schemaState(db: pg.Pool): Promise<{ billingTables: boolean; legacyColumn: boolean; tables: number }> {
  const { rows } = await db.query<{ billing: boolean; legacy: boolean; tables: number }>(
    `SELECT to_regclass('usage_ledger') IS NOT NULL AS billing,
            EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'organizations' AND column_name = 'usage') AS legacy,
            (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p'))::int AS tables`,
  );
  const r = rows[0];
  return { billingTables: r?.billing ?? false, legacyColumn: r?.legacy ?? false, tables: r?.tables ?? 0 };
}
