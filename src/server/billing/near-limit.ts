import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { FREE_PLAN_ID, METRICS, PLANS } from "./catalogue";
import { metricDefinition } from "./metrics";
import { SUBSCRIPTION_PRECEDENCE } from "./subscription-precedence";
import { calendarWindowAt } from "./windows";

/**
 * "How close is each org to its limits?" in SQL, for lists and counts over all orgs. Mirrors
 * the policy (see policy.ts `effectivePlan` / `effectiveLimit`): the subscription the policy
 * reads (newest, lapsed ones last) → its plan while active, trialing, renewed, on hold, past
 * due or cancelled-but-paid-through, else free; the newest active override replaces the
 * plan's limit for its metric. Unlimited metrics never count. One pass over `usage_cache`.
 *
 * A period counter counts only what its row holds for the current window (window-usage.ts):
 * a row whose window has ended reads 0 until a write or `npm run windows:catch-up` resets it.
 * The current window is the metric's calendar window, or for a billing-period metric the paid
 * subscription's period (one late renewal rolled forward: a renewal later than a whole
 * period is not) else the fallback month. A row from before windows existed (no window
 * start) counts whole unless it last changed before the window began — an over-estimate the
 * org page (which reads the ledger for such rows) does not make.
 */

export const NEAR_LIMIT_THRESHOLDS = [80, 100] as const;
export type NearLimitThreshold = (typeof NEAR_LIMIT_THRESHOLDS)[number];

const planProducts = Prisma.join(PLANS.filter((p) => p.dodoProductId).map((p) => Prisma.sql`(${p.id}, ${p.dodoProductId})`));
const planLimits = Prisma.join(
  PLANS.flatMap((p) =>
    METRICS.flatMap((m) => {
      const limit = p.limits[m];
      return limit === "unlimited" ? [] : [Prisma.sql`(${p.id}, ${m}, ${limit.value}::bigint)`];
    }),
  ),
);

/** Each period metric's window kind and the start of its calendar (or fallback) window at `now`. */
function windowStarts(now: Date): Prisma.Sql {
  const rows = METRICS.flatMap((m) => {
    const d = metricDefinition(m);
    if (d.kind === "gauge") return [];
    const calendar = d.window.kind === "calendar" ? d.window : { unit: "month" as const, ...d.window.fallback };
    return [Prisma.sql`(${m}, ${d.window.kind}, ${calendarWindowAt(calendar, now).start}::timestamptz)`];
  });
  return rows.length ? Prisma.sql`VALUES ${Prisma.join(rows)}` : Prisma.sql`SELECT NULL::text, NULL::text, NULL::timestamptz WHERE FALSE`;
}

/**
 * `SELECT org_id, metric, count, limit_value` — each cache row matching `where` (on alias `u`)
 * with what it counts in its current window and the limit the policy applies to it (null:
 * unlimited). The one pipeline behind the near-limit figures and the organizations' sorts.
 *
 * Each org's subscription and each (org, metric)'s override are picked once, set-wise
 * (DISTINCT ON, one scan of each table), and joined: one pass over usage_cache with hash
 * joins. A lookup per cache row (LATERAL … LIMIT 1) cost 40 000 index probes at 10 000 orgs.
 * Join it, never correlate it to an outer row: the set-wise picks cannot be narrowed per row.
 */
export function windowedUsageSql(now: Date, where: Prisma.Sql = Prisma.sql`TRUE`): Prisma.Sql {
  return Prisma.sql`
    SELECT u.org_id, u.metric, cnt.count, lim.value AS limit_value
    FROM usage_cache u
    LEFT JOIN (
      SELECT DISTINCT ON (org_id) org_id, product_id, status, current_period_start, current_period_end FROM subscriptions
      ORDER BY org_id, ${Prisma.raw(SUBSCRIPTION_PRECEDENCE)}
    ) s ON s.org_id = u.org_id
    LEFT JOIN (VALUES ${planProducts}) AS pp(plan_id, product_id) ON pp.product_id = s.product_id
    CROSS JOIN LATERAL (
      SELECT CASE
               WHEN s.status IN ('active', 'trialing', 'renewed', 'on_hold', 'past_due')
                 OR (s.status = 'cancelled' AND s.current_period_end > ${now})
               THEN COALESCE(pp.plan_id, ${FREE_PLAN_ID})
               ELSE ${FREE_PLAN_ID} END AS plan_id
    ) ep
    LEFT JOIN (${windowStarts(now)}) AS w(metric, kind, calendar_start) ON w.metric = u.metric
    CROSS JOIN LATERAL (
      SELECT CASE
               WHEN w.kind IS NULL THEN NULL
               WHEN w.kind = 'billing_period' AND ep.plan_id <> ${FREE_PLAN_ID}
                    AND s.current_period_start IS NOT NULL AND s.current_period_end > s.current_period_start
               THEN CASE WHEN ${now} >= s.current_period_end THEN s.current_period_end ELSE s.current_period_start END
               ELSE w.calendar_start END AS start
    ) win
    CROSS JOIN LATERAL (
      SELECT CASE
               WHEN win.start IS NULL THEN u.count
               WHEN u.window_start IS NOT NULL THEN CASE WHEN u.window_start >= win.start THEN u.count ELSE 0 END
               WHEN u.last_updated < win.start THEN 0
               ELSE u.count END AS count
    ) cnt
    LEFT JOIN (
      SELECT DISTINCT ON (org_id, metric) org_id, metric, kind, value FROM limit_overrides
      WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now})
      ORDER BY org_id, metric, created_at DESC, id DESC
    ) ov ON ov.org_id = u.org_id AND ov.metric = u.metric
    LEFT JOIN (VALUES ${planLimits}) AS pl(plan_id, metric, value)
      ON pl.metric = u.metric
     AND pl.plan_id = ep.plan_id
    CROSS JOIN LATERAL (
      SELECT CASE WHEN ov.kind IS NULL THEN pl.value WHEN ov.kind = 'unlimited' THEN NULL ELSE ov.value END AS value
    ) lim
    WHERE ${where}`;
}

/**
 * `SELECT org_id, pct` — each org's highest usage of any limited metric, in percent of the
 * limit (a limit of 0 with usage counts as 100 % or more). Orgs without usage are absent.
 */
export function usagePercentSql(now: Date): Prisma.Sql {
  return Prisma.sql`
    SELECT wu.org_id,
           MAX(CASE WHEN wu.limit_value = 0 THEN CASE WHEN wu.count > 0 THEN 1000000 ELSE 100 END
                    ELSE wu.count::numeric * 100 / wu.limit_value END) AS pct
    FROM (${windowedUsageSql(now)}) wu
    WHERE wu.limit_value IS NOT NULL
    GROUP BY wu.org_id`;
}

export interface NearLimitCounts {
  /** Orgs at ≥ 80 % of any hard or soft limit (includes those at ≥ 100 %). */
  atLeast80: number;
  /** Orgs at or over a hard or soft limit. */
  atLeast100: number;
}

export async function nearLimitCounts(db: Db, now: Date = new Date()): Promise<NearLimitCounts> {
  const [row] = await db.$queryRaw<{ at80: bigint; at100: bigint }[]>`
    SELECT count(*) FILTER (WHERE pct >= 80) AS at80, count(*) FILTER (WHERE pct >= 100) AS at100
    FROM (${usagePercentSql(now)}) p`;
  return { atLeast80: Number(row?.at80 ?? 0), atLeast100: Number(row?.at100 ?? 0) };
}
