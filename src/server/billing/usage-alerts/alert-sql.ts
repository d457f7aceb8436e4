import { Prisma } from "@/server/db/client";

import { alertPercentsFor, METRIC_KIND, METRICS, PLANS } from "../catalogue";
import { effectiveLimitJoins } from "./effective-limit-sql";

/**
 * The one SQL fragment that decides usage alerts (issue #12) in the statement that moves the
 * count. Every statement that writes ledger rows through a CTE `ins` (RETURNING *) and moves
 * the cache through a CTE `upd` (RETURNING org_id, metric, count, window_start) appends it
 * after `upd`, so a crossing is judged on the count the statement itself wrote, under the
 * cache row's lock: concurrent writers serialize on that lock and each sees the count the
 * previous one left. Exactly once, by construction:
 *
 * - A threshold is a level on the count: `pct:N` = ceil(N % of the effective limit) (at
 *   least 1; only while the metric has a limit), `abs:N` = N. The plan's percents come from
 *   the catalogue; an org's own thresholds (usage_alert_thresholds) add to them, and where
 *   both name the same threshold it is reported as the org's.
 * - A write that raises the count to or past a level inserts the threshold's mark
 *   (usage_alert_marks) `ON CONFLICT DO NOTHING`; only an inserted mark inserts the event.
 *   One mark per threshold and window for a period counter (exactly one event per org,
 *   metric, threshold and window, whatever the writes and however the limit moves); for a
 *   gauge the mark is deleted — re-armed — by the write that takes the count back below
 *   the level, so the next rise fires again.
 * - "Raises to or past": it fires on landing exactly on the level, on a jump over several
 *   levels (one event each), and on the first rise after a limit change moved a level below
 *   the count (the count is at or above it and no event said so yet).
 */

const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

const PLAN_PERCENTS = PLANS.flatMap((plan) =>
  METRICS.flatMap((metric) => alertPercentsFor(plan, metric).map((pct) => `(${literal(plan.id)}, ${literal(metric)}, ${pct})`)),
);
const PLAN_PERCENTS_SQL = PLAN_PERCENTS.length
  ? `VALUES ${PLAN_PERCENTS.join(", ")}`
  : "SELECT NULL::text, NULL::text, NULL::int WHERE FALSE";
const GAUGES = METRICS.filter((m) => METRIC_KIND[m] === "gauge");
const GAUGES_SQL = GAUGES.length ? GAUGES.map(literal).join(", ") : "NULL";

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The columns the fragment needs of `upd` (the cache rows the statement moved): every writer's
 * cache UPDATE returns these. `alert_next` is NULL on a row whose write must decide
 * (alert-band.ts); `alert_gen` is what the writer hands back when it refreshes the band.
 */
export const MOVED_ROW_RETURNING = Prisma.raw("c.org_id, c.metric, c.count, c.window_start, c.alert_next, c.alert_gen");

/** The start of the period a mark belongs to: the row's window for a period counter, the epoch for a gauge. */
export function markPeriodSql(metric: string, windowStart: string): string {
  return `COALESCE(CASE WHEN ${isGaugeSql(metric)} THEN NULL ELSE ${windowStart} END, 'epoch'::timestamptz)`;
}

/** Whether `metric` is a gauge (whose marks re-arm), as SQL. */
export function isGaugeSql(metric: string): string {
  return `${metric} IN (${GAUGES_SQL})`;
}

/**
 * FROM-clause text: `from` as `alias` (columns org_id, metric and a timestamptz `at`) joined to
 * its effective limit `el` (effective-limit-sql.ts) and to each threshold `t` that resolves to
 * a level there (`t.key`, `t.kind`, `t.value`, `t.source`, `t.level`): the plan's percents and
 * the org's own thresholds, the org's where both name the same one; a percent only while the
 * metric has a limit. The decision below and the band (alert-band.ts) read the same levels.
 */
export function thresholdLevelsFrom(from: string, alias: string): string {
  return `${effectiveLimitJoins(from, alias)}
    CROSS JOIN LATERAL (
      SELECT named.key, named.kind, named.value, named.source,
             CASE WHEN named.kind = 'absolute' THEN named.value
                  ELSE LEAST(GREATEST(ceil(el.limit_value::numeric * named.value / 100), 1), 9223372036854775807)::bigint END AS level
      FROM (
        SELECT DISTINCT ON (offered.key) offered.key, offered.kind, offered.value, offered.source FROM (
          SELECT 'pct:' || p.pct AS key, 'percent' AS kind, p.pct::bigint AS value, 'plan' AS source, 2 AS rank
          FROM (${PLAN_PERCENTS_SQL}) AS p(plan_id, metric, pct)
          WHERE p.plan_id = el.plan_id AND p.metric = ${alias}.metric
          UNION ALL
          SELECT CASE WHEN a.kind = 'percent' THEN 'pct:' ELSE 'abs:' END || a.value, a.kind, a.value, 'org', 1
          FROM usage_alert_thresholds a WHERE a.org_id = ${alias}.org_id AND a.metric = ${alias}.metric
        ) offered ORDER BY offered.key, offered.rank
      ) named
      WHERE named.kind = 'absolute' OR el.limit_value IS NOT NULL
    ) t`;
}

/**
 * Append after the `upd` CTE of a WITH statement (see above). It decides only for the rows
 * whose write left `alert_next` NULL (alert-band.ts): a write inside its row's band can
 * neither fire nor re-arm a threshold, so the statement skips the work for it.
 */
export const DECIDE_USAGE_ALERTS: Prisma.Sql = Prisma.raw(`, alert_moves AS MATERIALIZED (
    -- Each (org, metric) the statement moved out of its band: the count before its own rows
    -- (in the row's current window: a reset in the same statement is not part of the move)
    -- and after.
    SELECT u.org_id, u.metric, u.count AS after, u.count - d.delta AS before,
           CASE WHEN ${isGaugeSql("u.metric")} THEN NULL ELSE u.window_start END AS window_start, d.at
    FROM upd u
    JOIN (SELECT org_id, metric, SUM(delta) AS delta, max(timestamp) AS at FROM ins GROUP BY org_id, metric) d
      ON d.org_id = u.org_id AND d.metric = u.metric
    WHERE u.alert_next IS NULL AND d.delta <> 0
  ), alert_levels AS MATERIALIZED (
    SELECT m.org_id, m.metric, m.after, m.before, m.window_start, m.at, el.limit_kind, el.limit_value,
           t.key, t.kind, t.value, t.source, t.level
    FROM ${thresholdLevelsFrom("alert_moves", "m")}
  ), alert_marks AS (
    INSERT INTO usage_alert_marks (org_id, metric, threshold_key, period_start, level, fired_at)
    SELECT org_id, metric, key, COALESCE(window_start, 'epoch'::timestamptz), level, at FROM alert_levels
    WHERE after > before AND after >= level
    ON CONFLICT DO NOTHING
    RETURNING *
  ), alert_events AS (
    INSERT INTO billing_events (type, org_id, occurred_at, payload, dedupe_key)
    SELECT 'usage.threshold_crossed', l.org_id, k.fired_at, jsonb_build_object(
             'metric', l.metric,
             'threshold', CASE WHEN l.kind = 'percent'
                               THEN jsonb_build_object('kind', 'percent', 'percent', l.value, 'source', l.source)
                               ELSE jsonb_build_object('kind', 'absolute', 'count', l.value::text, 'source', l.source) END,
             'level', l.level::text,
             'previousCount', l.before::text,
             'count', l.after::text,
             'limit', l.limit_value::text,
             'limitKind', l.limit_kind,
             'windowStart', ${iso("l.window_start")}),
           'threshold:' || k.id
    FROM alert_marks k
    JOIN alert_levels l ON l.org_id = k.org_id AND l.metric = k.metric AND l.key = k.threshold_key
    ON CONFLICT DO NOTHING
  ), alert_rearm AS (
    DELETE FROM usage_alert_marks k USING alert_levels l
    WHERE l.window_start IS NULL AND ${isGaugeSql("l.metric")} AND l.after < l.level
      AND k.org_id = l.org_id AND k.metric = l.metric AND k.threshold_key = l.key AND k.period_start = 'epoch'::timestamptz
  )`);
