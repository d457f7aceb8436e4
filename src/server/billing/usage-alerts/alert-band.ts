import { createHash } from "node:crypto";

import { Prisma } from "@/server/db/client";
import type { RawQuery } from "@/server/db/raw-query";

import { DECIDE_USAGE_ALERTS, isGaugeSql, markPeriodSql, thresholdLevelsFrom } from "./alert-sql";

/**
 * The band that lets a write skip the alert decision (issue #12's cost target). Deciding a
 * crossing needs the effective limit and every threshold's level: work that costs the hot
 * statement about half its throughput when done on every write. But a write can only fire a
 * threshold whose mark is missing and whose level its new count reaches, or re-arm a gauge's
 * threshold whose mark exists and whose level its new count is below. So each cache row keeps
 *
 *   alert_next  = the lowest level with no mark in the row's window (none: 2^63-1), and
 *   alert_rearm = a gauge's highest level with a mark (none: NULL),
 *
 * valid for writes dated in [alert_valid_from, alert_valid_until) (between the instants at which
 * the effective limit changes by the clock alone: an override's expiry, a cancelled plan's
 * period end) under the SQL that computed it (`alert_basis`, a fingerprint of that SQL and the
 * catalogue it inlines). A write whose new count is in [alert_rearm, alert_next), in that time,
 * under that basis, provably decides nothing (`inBandSql`), so it runs without the deciding
 * SQL (row-write-sql.ts: the lean statement; the batches' `bandSet`). Any other write decides,
 * sets `alert_next` NULL and bumps `alert_gen`; the writer then stores the new band
 * (`refreshAlertBands`).
 *
 * Why it cannot hide a crossing:
 * - Levels move only with a subscription, an override or an org threshold, and triggers on
 *   those tables (migration 20261124000886) forget the band in the same transaction; a new
 *   window forgets it in the statement that starts the window; a deploy that changes the
 *   catalogue changes `alert_basis`.
 * - Marks change only in a decision, which bumps `alert_gen`. The refresh stores a band only
 *   where `alert_gen` is still the value the writer left, checked on the row it locked (its
 *   latest version): anything that changed levels or marks since then has bumped it, so a band
 *   computed from an older snapshot is never stored — the row stays "not known" and the next
 *   write decides. A refresh that fails or never runs leaves the same.
 * test/integration/usage-alert-band.test.ts holds the band's decisions equal to deciding on
 * every write, over random sequences of writes, limit changes and thresholds.
 */

/** The largest count: a band whose every threshold has fired (or that has none) ends there. */
const NO_LEVEL = "9223372036854775807";

/** The SQL that computes a band, over CTE `cur` (org_id, metric, at, period_start). */
const BAND_SQL = `levels AS (
    SELECT cur.org_id, cur.metric, cur.period_start, t.key, t.level FROM ${thresholdLevelsFrom("cur", "cur")}
  ), band AS (
    SELECT l.org_id, l.metric,
           MIN(l.level) FILTER (WHERE k.org_id IS NULL) AS next,
           MAX(l.level) FILTER (WHERE k.org_id IS NOT NULL AND ${isGaugeSql("l.metric")}) AS rearm
    FROM levels l
    LEFT JOIN usage_alert_marks k
      ON k.org_id = l.org_id AND k.metric = l.metric AND k.threshold_key = l.key AND k.period_start = l.period_start
    GROUP BY l.org_id, l.metric
  )`;

/** Whatever decides and whatever bands the decision: a change to either invalidates every stored band. */
export const ALERT_BASIS: number = createHash("sha256").update(DECIDE_USAGE_ALERTS.sql).update(BAND_SQL).digest().readInt32BE(0);

/** The columns of a cache row that hold its band (read with the row, for `inBandSql`). */
export const BAND_COLUMNS = "alert_next, alert_rearm, alert_valid_from, alert_valid_until, alert_basis";

/**
 * Whether a write that leaves row `r` (its BAND_COLUMNS, as locked) at `newCount`, dated `at`,
 * stays in the row's band: then it can neither fire nor re-arm a threshold. False, never NULL,
 * when the band is not known.
 */
export function inBandSql(r: string, newCount: Prisma.Sql, at: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`COALESCE(${Prisma.raw(r)}.alert_next IS NOT NULL AND ${Prisma.raw(r)}.alert_basis = ${Prisma.raw(String(ALERT_BASIS))}
      AND ${newCount} < ${Prisma.raw(r)}.alert_next AND (${Prisma.raw(r)}.alert_rearm IS NULL OR ${newCount} >= ${Prisma.raw(r)}.alert_rearm)
      AND (${Prisma.raw(r)}.alert_valid_from IS NULL OR ${at} >= ${Prisma.raw(r)}.alert_valid_from)
      AND (${Prisma.raw(r)}.alert_valid_until IS NULL OR ${at} < ${Prisma.raw(r)}.alert_valid_until), FALSE)`;
}

/** A statement that decides for every row it moves: none of them keeps a band (the writer refreshes it). */
export const BAND_FORGOTTEN_SET = Prisma.raw(`,
      alert_next = NULL, alert_gen = c.alert_gen + 1`);

/**
 * For a writer with one statement for every row (the batches): the extra assignments of its
 * cache UPDATE (`UPDATE usage_cache c SET count = …`), `newCount` its new count's expression,
 * `at` the write's time. A row out of its band loses it and decides; one in it keeps it. The
 * old-row columns (`c.alert_*`) are the row as locked: PostgreSQL computes an UPDATE's new row
 * from the latest version.
 */
export function bandSet(newCount: string, at: string): Prisma.Sql {
  const decides = Prisma.sql`NOT ${inBandSql("c", Prisma.raw(newCount), Prisma.raw(at))}`;
  return Prisma.sql`,
      alert_next = CASE WHEN ${decides} THEN NULL ELSE c.alert_next END,
      alert_gen = c.alert_gen + CASE WHEN ${decides} THEN 1 ELSE 0 END`;
}

/** A row a write left without a band: its key and the `alert_gen` the write left on it. */
export interface StaleBand {
  orgId: string;
  metric: string;
  gen: string;
}

/**
 * A column for the writer's final SELECT (after `DECIDE_USAGE_ALERTS`): the rows of `upd` whose
 * band must be computed again, as a JSON array of StaleBand (NULL when none).
 */
export const STALE_BANDS_COLUMN = Prisma.raw(
  `(SELECT json_agg(json_build_object('orgId', org_id, 'metric', metric, 'gen', alert_gen::text)) FROM upd WHERE alert_next IS NULL) AS stale_bands`,
);

/** STALE_BANDS_COLUMN of a statement that decided nothing, so left no band unknown. */
export const NO_STALE_BANDS_COLUMN = Prisma.raw("NULL::json AS stale_bands");

/**
 * Stores the band of each row a write left without one, for writes dated `at` — where the row
 * is still as that write left it (`alert_gen` unchanged: see above). Locks the rows in key
 * order, as every writer does. Run it after the write, in its transaction when it has one.
 */
export async function refreshAlertBands(
  run: RawQuery,
  stale: readonly StaleBand[] | null | undefined,
  at: Date,
  options: { afterCommit?: boolean } = {},
): Promise<void> {
  if (!stale?.length) return;
  // After a write that committed on its own, a failed refresh leaves the band "not known" (the
  // next write decides and tries again): it must not fail the write. In a caller's
  // transaction, the error is the transaction's.
  if (options.afterCommit) {
    return storeBands(run, stale, at).catch((error: unknown) =>
      console.error(
        `[usage-alerts] band refresh failed (the next write decides): ${error instanceof Error ? error.message : String(error)}`,
      ),
    );
  }
  return storeBands(run, stale, at);
}

async function storeBands(run: RawQuery, stale: readonly StaleBand[], at: Date): Promise<void> {
  await run(Prisma.sql`
    WITH t AS (
      SELECT * FROM unnest(${stale.map((s) => s.orgId)}::uuid[], ${stale.map((s) => s.metric)}::text[],
                           ${stale.map((s) => s.gen)}::bigint[]) AS t(org_id, metric, gen)
    ), cur AS MATERIALIZED (
      SELECT c.org_id, c.metric, ${at}::timestamptz AS at, ${Prisma.raw(markPeriodSql("c.metric", "c.window_start"))} AS period_start
      FROM usage_cache c JOIN t ON t.org_id = c.org_id AND t.metric = c.metric
      WHERE c.alert_next IS NULL AND c.alert_gen = t.gen
      ORDER BY c.org_id, c.metric
      FOR UPDATE OF c
    ), ${Prisma.raw(BAND_SQL)}, valid AS (
      -- The instants at which the effective limit changes with nothing written (an override's
      -- expiry; a subscription's period end, until which a cancelled plan is kept): the band
      -- holds from the last one at or before \`at\` to the first one after it. Not from \`at\`
      -- itself, so a concurrent write whose clock read a moment earlier does not decide again.
      SELECT cur.org_id, cur.metric,
             GREATEST(
               (SELECT max(s.current_period_end) FROM subscriptions s WHERE s.org_id = cur.org_id AND s.current_period_end <= cur.at),
               (SELECT max(o.expires_at) FROM limit_overrides o
                WHERE o.org_id = cur.org_id AND o.metric = cur.metric AND o.revoked_at IS NULL AND o.expires_at <= cur.at)) AS since,
             LEAST(
               (SELECT min(s.current_period_end) FROM subscriptions s WHERE s.org_id = cur.org_id AND s.current_period_end > cur.at),
               (SELECT min(o.expires_at) FROM limit_overrides o
                WHERE o.org_id = cur.org_id AND o.metric = cur.metric AND o.revoked_at IS NULL AND o.expires_at > cur.at)) AS until
      FROM cur
    )
    UPDATE usage_cache c
    SET alert_next = COALESCE(band.next, ${Prisma.raw(NO_LEVEL)}), alert_rearm = band.rearm,
        alert_valid_from = valid.since, alert_valid_until = valid.until, alert_basis = ${Prisma.raw(String(ALERT_BASIS))}
    FROM cur
    JOIN valid ON valid.org_id = cur.org_id AND valid.metric = cur.metric
    LEFT JOIN band ON band.org_id = cur.org_id AND band.metric = cur.metric
    WHERE c.org_id = cur.org_id AND c.metric = cur.metric`);
}
