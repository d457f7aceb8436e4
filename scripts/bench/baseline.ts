import { randomUUID } from "node:crypto";

import type pg from "pg";

import { claimedRowCtesText, ledgerInsertCtesText } from "@/server/billing/ledger-insert-sql";
import { SUBSCRIPTION_PRECEDENCE } from "@/server/billing/subscription-precedence";

/**
 * The baseline: the minimal SQL for the same work, on a bare `pg` Pool (no Prisma, no
 * validation, no policy code). The statements are the services' own (see
 * entitlement-service.ts and usage-service.ts), trimmed to what the work needs, so the
 * ratio service ÷ baseline is the cost of everything around the SQL.
 *
 * The same text runs under pgbench (see pgbench.ts), with `$n` replaced by pgbench
 * expressions, so every statement here is a single statement without comments.
 */

/**
 * The one policy-context read (`loadPolicyContext`): subscription (chosen by the services' own
 * SUBSCRIPTION_PRECEDENCE, so the baseline cannot drift from the rule), overrides, cache.
 */
export const POLICY_READ_SQL = `
SELECT
  (SELECT row_to_json(s) FROM (
     SELECT id, product_id, status, current_period_start, current_period_end, updated_at
     FROM subscriptions WHERE org_id = o.id
     ORDER BY ${SUBSCRIPTION_PRECEDENCE} LIMIT 1) s) AS subscription,
  (SELECT json_agg(v) FROM (
     SELECT DISTINCT ON (metric) metric, kind, value::text AS value, expires_at
     FROM limit_overrides
     WHERE org_id = o.id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
     ORDER BY metric, created_at DESC) v) AS overrides,
  (SELECT json_agg(u) FROM (
     SELECT metric, count::text AS count, last_updated FROM usage_cache WHERE org_id = o.id) u) AS usage
FROM organizations o WHERE o.id = $1::uuid`;

/**
 * The ledger rows go in through the one writer fragment (ledger-insert-sql.ts: the key claimed
 * in usage_idempotency_keys, the row inserted where it was new), as every service writes them.
 *
 * consume's write for api.call, which counts TWO metrics (actions.ts `also`: the period's calls
 * and the hour's): idempotency probe, both cache rows locked in metric order, the primary
 * ledger row under the cap (the key's unique index the arbiter: ON CONFLICT DO NOTHING), the
 * second metric's row from it (no key, as consume-several.ts writes it), both cache rows
 * UPDATEd by the inserted rows — in ONE statement, the least SQL that does the service's work
 * (the service's one statement, consume-several-sql.ts, also resets windows and decides alerts). $1 org,
 * $2 key, $3 delta, $4 metric, $5 cap on it (NULL = unlimited), $6 reason, $7 actor, $8
 * metadata, $9 the second metric. `ins` is MATERIALIZED: inlined, the UPDATE's recheck of a row
 * a concurrent consume changed (EvalPlanQual) would re-run the INSERTs, which PostgreSQL refuses.
 */
export const CONSUME_SQL = `
WITH prior AS (
  SELECT ledger_id FROM usage_idempotency_keys WHERE org_id = $1::uuid AND idempotency_key = $2
), locked AS (
  SELECT c.metric, c.count FROM usage_cache c
  WHERE c.org_id = $1::uuid AND c.metric IN ($4, $9) AND NOT EXISTS (SELECT 1 FROM prior)
  ORDER BY c.metric FOR UPDATE
), ${ledgerInsertCtesText(
  "own",
  `SELECT gen_random_uuid(), $1::uuid, $4::text, $3::bigint, $6::text, $2::text, $7::text, $8::jsonb, now()
  FROM locked WHERE locked.metric = $4 AND ($5::bigint IS NULL OR locked.count + $3::bigint <= $5::bigint)`,
)}, ${ledgerInsertCtesText("extra", `SELECT gen_random_uuid(), own.org_id, $9::text, own.delta, $6::text, NULL::text, $7::text, $8::jsonb, own.timestamp FROM own`, { keyless: true })}, ins AS MATERIALIZED (
  SELECT id, org_id, metric, delta, timestamp FROM own UNION ALL SELECT id, org_id, metric, delta, timestamp FROM extra
), up AS (
  UPDATE usage_cache c SET count = c.count + ins.delta, last_updated = ins.timestamp
  FROM ins WHERE c.org_id = ins.org_id AND c.metric = ins.metric
  RETURNING c.count
)
SELECT (SELECT id FROM own) AS id, (SELECT count(*) FROM up) AS updated`;

/** The second metric api.call counts (actions.ts), which the baseline's consume writes too. */
export const CONSUME_ALSO_METRIC = "api_calls_hourly";

/**
 * increment: the cache row locked, ledger INSERT (idempotent) + cache UPDATE in one statement
 * (the service's lock order: row, then key). $1 org … $7 metadata.
 */
export const INCREMENT_SQL = `
WITH locked AS (
  SELECT 1 FROM usage_cache WHERE org_id = $1::uuid AND metric = $2 FOR UPDATE
), ${claimedRowCtesText("ins", {
  source: "locked",
  orgId: "$1::uuid",
  metric: "$2::text",
  delta: "$3::bigint",
  reason: "$4::text",
  idempotencyKey: "$5::text",
  actor: "$6::text",
  metadata: "$7::jsonb",
  timestamp: "now()",
})}, upd AS (
  UPDATE usage_cache c SET count = c.count + ins.delta, last_updated = ins.timestamp
  FROM ins WHERE c.org_id = ins.org_id AND c.metric = ins.metric
  RETURNING c.count
)
SELECT ins.id, (SELECT count FROM upd) AS new_count FROM ins`;

/** A batch: one multi-row INSERT … SELECT unnest, one aggregated cache UPDATE. */
export const BATCH_SQL = `
WITH ${ledgerInsertCtesText(
  "ins",
  `SELECT gen_random_uuid(), u.*, now() FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::jsonb[]) AS u`,
)}, agg AS (
  UPDATE usage_cache c SET count = c.count + t.total, last_updated = t.at
  FROM (SELECT org_id, metric, SUM(delta) AS total, max(timestamp) AS at FROM ins GROUP BY org_id, metric) t
  WHERE c.org_id = t.org_id AND c.metric = t.metric
)
SELECT count(*)::int AS applied FROM ins`;

export const OLD_MEMBERS_SQL = "SELECT COUNT(*) FROM members WHERE org_id = $1::uuid";
export const OLD_STORAGE_SQL = "SELECT COALESCE(SUM(size_bytes), 0) AS bytes FROM stored_files WHERE org_id = $1::uuid";

const CONSUME_METADATA = JSON.stringify({ action: "api.call" });

// Named (prepared) statements, as the services' Prisma client uses (src/server/db/client.ts):
// the baseline must not pay a planning cost the service does not.
const named = (name: string, text: string, values: unknown[]) => ({ name: `bench_${name}`, text, values });

/** consume("api.call") on an enterprise org: the policy read, then the conditional write of both its metrics. */
export async function baselineConsume(pool: pg.Pool, orgId: string): Promise<boolean> {
  const { rows } = await pool.query<{ subscription: unknown }>(named("policy", POLICY_READ_SQL, [orgId]));
  if (!rows[0]) throw new Error(`baseline consume: no organization ${orgId}`);
  // api_calls is unlimited on the enterprise plan: no cap.
  const result = await pool.query<{ id: string | null; updated: string }>(
    named("consume", CONSUME_SQL, [
      orgId,
      randomUUID(),
      "1",
      "api_calls",
      null,
      "api_call",
      "bench-baseline",
      CONSUME_METADATA,
      CONSUME_ALSO_METRIC,
    ]),
  );
  const row = result.rows[0];
  // Both cache rows must exist (setup.ts seeds them): else the baseline did half the work.
  if (row?.id != null && Number(row.updated) !== 2) throw new Error(`baseline consume: ${row.updated} cache rows updated, not 2`);
  return row?.id != null;
}

export async function baselineIncrement(pool: pg.Pool, orgId: string): Promise<void> {
  await pool.query(named("increment", INCREMENT_SQL, [orgId, "api_calls", "1", "api_call", randomUUID(), "bench-baseline", "{}"]));
}

export async function baselineCheck(pool: pg.Pool, orgId: string): Promise<void> {
  await pool.query(named("policy", POLICY_READ_SQL, [orgId]));
}

/** The old way of answering "how much does this org use?": two full counts. */
export async function oldWayCheck(pool: pg.Pool, orgId: string): Promise<void> {
  await pool.query(named("old_members", OLD_MEMBERS_SQL, [orgId]));
  await pool.query(named("old_storage", OLD_STORAGE_SQL, [orgId]));
}

export interface BatchColumns {
  orgIds: string[];
  metrics: string[];
  deltas: string[];
  reasons: string[];
  keys: string[];
  actors: string[];
  metadata: string[];
}

export async function baselineBatch(pool: pg.Pool, batch: BatchColumns): Promise<number> {
  const { rows } = await pool.query<{ applied: number }>(BATCH_SQL, [
    batch.orgIds,
    batch.metrics,
    batch.deltas,
    batch.reasons,
    batch.keys,
    batch.actors,
    batch.metadata,
  ]);
  return rows[0]?.applied ?? 0;
}
