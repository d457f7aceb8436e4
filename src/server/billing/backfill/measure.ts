import type pg from "pg";

import { BACKFILL_METRICS, type BackfillMetric, type MetricState, type OrgState } from "./types";

/** Anything that runs a query: a pool, a pooled client, a client. */
export type Queryable = Pick<pg.ClientBase, "query">;

/**
 * Whether `organizations.usage` (the legacy JSONB) still exists. The cleanup migration
 * drops it; the backfill keeps working after that, without legacy values.
 */
export async function legacyColumnExists(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'organizations' AND column_name = 'usage'
     ) AS exists`,
  );
  return rows[0]?.exists ?? false;
}

interface MeasureRow {
  org_id: string;
  legacy_members: string | null;
  legacy_teams: string | null;
  legacy_storage_bytes: string | null;
  members: string;
  teams: string;
  storage_bytes: string;
  cache: Record<string, string> | null;
  ledger: Record<string, [string, number]> | null;
}

const METRIC_LIST = `'members', 'teams', 'storage_bytes'`;

/** `usage ->> metric` as text when the JSON value is a number or a string of digits. */
const legacyValue = (metric: BackfillMetric) =>
  `CASE WHEN jsonb_typeof(o.usage -> '${metric}') IN ('number', 'string') AND (o.usage ->> '${metric}') ~ '^[0-9]+$'
        THEN o.usage ->> '${metric}' END`;

/**
 * Everything the backfill compares, for the given orgs, in ONE statement, so one snapshot:
 * the old counts (COUNT members, COUNT teams, SUM file sizes — the slow way), the legacy
 * JSONB values, the cache rows and SUM(ledger) with its row count. Host writers insert a
 * member in the same transaction as its increment, so one snapshot never sees one without
 * the other. Orgs that no longer exist are simply missing from the result.
 */
export async function measureOrgs(db: Queryable, orgIds: readonly string[], legacyColumn: boolean): Promise<OrgState[]> {
  if (orgIds.length === 0) return [];
  const legacy = legacyColumn
    ? BACKFILL_METRICS.map((m) => `${legacyValue(m)} AS legacy_${m}`).join(",\n       ")
    : BACKFILL_METRICS.map((m) => `NULL::text AS legacy_${m}`).join(", ");
  const { rows } = await db.query<MeasureRow>(
    `SELECT o.id::text AS org_id,
       ${legacy},
       (SELECT count(*) FROM members m WHERE m.org_id = o.id)::text AS members,
       (SELECT count(*) FROM teams t WHERE t.org_id = o.id)::text AS teams,
       (SELECT COALESCE(sum(f.size_bytes), 0) FROM stored_files f WHERE f.org_id = o.id)::text AS storage_bytes,
       (SELECT json_object_agg(c.metric, c.count::text) FROM usage_cache c
         WHERE c.org_id = o.id AND c.metric IN (${METRIC_LIST})) AS cache,
       (SELECT json_object_agg(l.metric, json_build_array(l.total::text, l.n)) FROM (
          SELECT metric, sum(total) AS total, sum(n) AS n FROM (
            SELECT metric, sum(delta) AS total, count(*) AS n FROM usage_ledger
            WHERE org_id = o.id AND metric IN (${METRIC_LIST}) GROUP BY metric
            UNION ALL
            -- The archived months, by the sums recorded when their partitions were dropped.
            SELECT metric, sum(total), sum(entries) FROM usage_archived_months
            WHERE org_id = o.id AND metric IN (${METRIC_LIST}) GROUP BY metric) parts
          GROUP BY metric) l) AS ledger
     FROM organizations o
     WHERE o.id = ANY($1::uuid[])
     ORDER BY o.id`,
    [orgIds],
  );
  return rows.map((row) => {
    const metric = (name: BackfillMetric): MetricState => {
      const cache = row.cache?.[name];
      const ledger = row.ledger?.[name];
      const legacy = row[`legacy_${name}`];
      return {
        oldCount: BigInt(row[name]),
        legacyValue: legacy === null ? null : BigInt(legacy),
        cache: cache === undefined ? null : BigInt(cache),
        ledgerSum: ledger ? BigInt(ledger[0]) : 0n,
        ledgerRows: ledger ? Number(ledger[1]) : 0,
      };
    };
    return {
      orgId: row.org_id,
      metrics: { members: metric("members"), teams: metric("teams"), storage_bytes: metric("storage_bytes") },
    };
  });
}
