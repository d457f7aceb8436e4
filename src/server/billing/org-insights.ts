import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { METRICS, planById, type Metric } from "./catalogue";
import { listDenials, type Denial } from "./denials";
import type { EntitlementService } from "./entitlement-service";
import { BillingError } from "./errors";
import { limitOverrideOf, type LimitOverride } from "./limit-overrides";
import type { SubscriptionState } from "./policy";
import type { UsageSummary } from "./policy-context";
import { foldLedger } from "./rollup/fold";
import { ledgerTailCtes } from "./rollup/ledger-tail";
import { SUBSCRIPTION_PRECEDENCE } from "./subscription-precedence";
import { currentWindow } from "./usage-window";

/**
 * Staff insights about one organization: its header, usage against limits and each period
 * metric's current window, active overrides, recent denials, and a usage-over-time series
 * from the ledger. Knows nothing of tRPC or Next.
 *
 * Rows whose metric the catalogue does not know (written by a newer deploy, or for a retired
 * metric) are shown by their raw name: in the series, and as uncatalogued usage.
 */

const DAY_MS = 86_400_000;

export interface UsagePoint {
  /** A UTC day, `YYYY-MM-DD`. */
  day: string;
  /** The running total (SUM of deltas) at the end of that day. */
  count: bigint;
}

export interface UsageSeries {
  /** A catalogue metric, or the raw name of one only the ledger knows. */
  metric: string;
  points: UsagePoint[];
}

/** Midnight UTC of the day `date` falls in. */
function utcDay(date: Date): Date {
  return new Date(Math.floor(date.getTime() / DAY_MS) * DAY_MS);
}

/**
 * Daily (UTC) running totals per metric for the last `days` days up to and including
 * `now`'s day: everything before the window plus a running sum of each day's deltas. Read
 * from the rollups (usage_daily: a few rows per day) plus the ledger's unfolded tail, in one
 * statement — exact, and as fast for an org with millions of rows as for one with ten.
 * Every metric gets every day (days without entries carry the previous total): the
 * catalogue's in its order, then any other metric the org's ledger holds, by name.
 */
export async function usageSeries(db: Db, orgId: string, options: { days?: number; now?: Date } = {}): Promise<UsageSeries[]> {
  const days = Math.min(Math.max(Math.trunc(options.days ?? 90), 1), 366);
  const end = new Date(utcDay(options.now ?? new Date()).getTime() + DAY_MS); // exclusive
  const start = new Date(end.getTime() - days * DAY_MS);
  // UTC calendar days as text: a timestamp cast to date would use the session's time zone.
  const [startDay, endDay] = [start, end].map((d) => d.toISOString().slice(0, 10));
  const tail = await ledgerTailCtes(db, "org_id, metric, delta, timestamp");
  const rows = await db.$queryRaw<{ metric: string; day: string; count: bigint }[]>`
    WITH ${tail},
    per_day AS (
      SELECT metric, day, total FROM usage_daily WHERE org_id = ${orgId}::uuid
      UNION ALL
      SELECT metric, (timestamp AT TIME ZONE 'UTC')::date, delta FROM ledger_tail WHERE org_id = ${orgId}::uuid
    ), before AS (
      SELECT metric, SUM(total) AS total FROM per_day WHERE day < ${startDay}::date GROUP BY metric
    ), daily AS (
      SELECT metric, (day - ${startDay}::date) AS n, SUM(total) AS delta
      FROM per_day WHERE day >= ${startDay}::date AND day < ${endDay}::date GROUP BY 1, 2
    ), days AS (
      SELECT generate_series(0, ${days - 1}::int) AS n
    ), metrics AS (
      SELECT unnest(ARRAY[${Prisma.join([...METRICS])}]::text[]) AS metric
      UNION SELECT metric FROM before
      UNION SELECT metric FROM daily
    )
    SELECT m.metric,
           to_char(${startDay}::date + d.n, 'YYYY-MM-DD') AS day,
           (COALESCE(b.total, 0) + SUM(COALESCE(x.delta, 0)) OVER (PARTITION BY m.metric ORDER BY d.n))::bigint AS count
    FROM metrics m
    CROSS JOIN days d
    LEFT JOIN daily x ON x.metric = m.metric AND x.n = d.n
    LEFT JOIN before b ON b.metric = m.metric
    ORDER BY m.metric, d.n`;
  const byMetric = new Map<string, UsagePoint[]>(METRICS.map((m) => [m, []]));
  for (const row of rows) {
    let points = byMetric.get(row.metric);
    if (!points) byMetric.set(row.metric, (points = []));
    points.push({ day: row.day, count: BigInt(row.count) });
  }
  const catalogued = new Set<string>(METRICS);
  const others = [...byMetric.keys()].filter((m) => !catalogued.has(m)).sort();
  return [...METRICS, ...others].map((metric) => ({ metric, points: byMetric.get(metric) ?? [] }));
}

/** A period metric's current window, as the org page shows it. */
export interface MetricWindowView {
  metric: Metric;
  /** Inclusive. */
  start: Date;
  /** Exclusive: the instant the count starts again. */
  end: Date;
  /** Whole seconds from `now` to `end`, rounded up (0 only at the boundary). */
  resetsInSeconds: number;
}

/**
 * Each period metric's window at `now` under the org's subscription (usage-window.ts, the
 * rule the usage writes and the policy apply); gauges have none and are left out.
 */
export function currentWindows(subscription: SubscriptionState | null, now: Date): MetricWindowView[] {
  return METRICS.flatMap((metric) => {
    const window = currentWindow(metric, subscription, now);
    if (!window) return [];
    const resetsInSeconds = Math.max(0, Math.ceil((window.end.getTime() - now.getTime()) / 1000));
    return [{ metric, start: window.start, end: window.end, resetsInSeconds }];
  });
}

/** A cached count whose metric the catalogue does not know: shown, with no limit or window. */
export interface UncataloguedUsage {
  metric: string;
  count: bigint;
  lastUpdated: Date;
}

export interface OrganizationDetail {
  org: { id: string; name: string; slug: string; createdAt: Date };
  plan: { id: string; name: string };
  /** The subscription the policy uses (newest, a lapsed one last); null without one. */
  subscription: {
    id: string;
    productId: string;
    status: string;
    currentPeriodStart: Date | null;
    currentPeriodEnd: Date | null;
    cancelAtPeriodEnd: boolean;
  } | null;
  usage: UsageSummary;
  /** The server's clock when the detail was read: what `windows` are measured from. */
  asOf: Date;
  /** The current window of each period metric of the catalogue. */
  windows: MetricWindowView[];
  /** `usage_cache` rows of metrics outside the catalogue, by name. */
  uncatalogued: UncataloguedUsage[];
  /** Active (not revoked, not expired) overrides, newest first; the first per metric applies. */
  overrides: LimitOverride[];
  /** The newest 20 recorded denials. */
  denials: Denial[];
  /** Daily running totals for the last 90 days. */
  series: UsageSeries[];
}

/** Everything the organization page shows except the ledger history (paged separately). */
export async function getOrganizationDetail(
  db: Db,
  entitlements: EntitlementService,
  orgId: string,
  now: Date = new Date(),
): Promise<OrganizationDetail> {
  const org = await db.organization.findUnique({ where: { id: orgId }, select: { id: true, name: true, slug: true, createdAt: true } });
  if (!org) throw new BillingError("NOT_FOUND", "org_not_found", `Organization ${orgId} does not exist`);
  // The chart reads the rollups plus the unfolded tail: fold first so the tail is short.
  await foldLedger(db);
  const [usage, subscriptions, uncatalogued, overrides, denials, series] = await Promise.all([
    entitlements.usageSummary(orgId, db),
    db.$queryRaw<
      {
        id: string;
        product_id: string;
        status: string;
        current_period_start: Date | null;
        current_period_end: Date | null;
        cancel_at_period_end: boolean;
        updated_at: Date;
      }[]
    >`SELECT id, product_id, status, current_period_start, current_period_end, cancel_at_period_end, updated_at
      FROM subscriptions WHERE org_id = ${orgId}::uuid ORDER BY ${Prisma.raw(SUBSCRIPTION_PRECEDENCE)} LIMIT 1`,
    db.usageCache.findMany({
      where: { orgId, metric: { notIn: [...METRICS] } },
      select: { metric: true, count: true, lastUpdated: true },
      orderBy: { metric: "asc" },
    }),
    db.limitOverride
      .findMany({
        where: { orgId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      })
      .then((rows) => rows.map(limitOverrideOf)),
    listDenials(db, { orgId, limit: 20 }),
    usageSeries(db, orgId, { now }),
  ]);
  // The subscription the policy uses.
  const sub = subscriptions[0] ?? null;
  const plan = planById(usage.plan);
  return {
    org,
    plan: { id: usage.plan, name: plan?.name ?? usage.plan },
    subscription: sub && {
      id: sub.id,
      productId: sub.product_id,
      status: sub.status,
      currentPeriodStart: sub.current_period_start,
      currentPeriodEnd: sub.current_period_end,
      cancelAtPeriodEnd: sub.cancel_at_period_end,
    },
    usage,
    asOf: now,
    windows: currentWindows(
      sub && {
        id: sub.id,
        productId: sub.product_id,
        status: sub.status,
        currentPeriodStart: sub.current_period_start,
        currentPeriodEnd: sub.current_period_end,
        updatedAt: sub.updated_at,
      },
      now,
    ),
    uncatalogued,
    overrides,
    denials,
    series,
  };
}
