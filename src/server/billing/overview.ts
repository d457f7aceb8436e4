import type { Db } from "@/server/db/tx";

import { outboxStatus } from "./dodo/outbox-status";
import { countWebhookEvents } from "./dodo/webhook-events";
import { PROBLEM_STATUSES } from "./dodo/webhook-status";
import { nearLimitCounts, type NearLimitCounts } from "./near-limit";

/**
 * Headline numbers for the staff overview. Knows nothing of tRPC or Next.
 */

export interface IntegrityCheck {
  /** (org, metric) pairs that have a cache row or ledger rows. */
  pairsChecked: number;
  /** Pairs where `usage_cache.count` differs from `SUM(usage_ledger.delta)` (invariant 1). */
  mismatches: number;
}

export interface BillingOverview {
  organizations: number;
  /** Subscriptions whose status is `active`. */
  activeSubscriptions: number;
  integrity: IntegrityCheck;
  checkedAt: Date;
  /** Orgs at ≥ 80 % and ≥ 100 % of any hard or soft limit. */
  nearLimit: NearLimitCounts;
}

/**
 * Invariant 1 over the whole database: every (org, metric) with a cache row or any ledger
 * rows must have `count = SUM(delta)`; a missing side counts as 0. A full pass over the
 * ledger, so it belongs on a staff page, not on a hot path.
 */
export async function checkUsageIntegrity(db: Db): Promise<IntegrityCheck> {
  const [row] = await db.$queryRaw<{ pairs: bigint; mismatches: bigint }[]>`
    WITH sums AS (
      SELECT org_id, metric, SUM(delta) AS total
      FROM usage_ledger
      GROUP BY org_id, metric
    )
    SELECT count(*) AS "pairs",
           count(*) FILTER (WHERE COALESCE(c.count, 0) <> COALESCE(l.total, 0)) AS "mismatches"
    FROM usage_cache c
    FULL OUTER JOIN sums l ON l.org_id = c.org_id AND l.metric = c.metric`;
  return { pairsChecked: Number(row?.pairs ?? 0), mismatches: Number(row?.mismatches ?? 0) };
}

export async function getBillingOverview(db: Db): Promise<BillingOverview> {
  const organizations = await db.organization.count();
  const activeSubscriptions = await db.subscription.count({ where: { status: "active" } });
  const integrity = await checkUsageIntegrity(db);
  const nearLimit = await nearLimitCounts(db);
  return { organizations, activeSubscriptions, integrity, checkedAt: new Date(), nearLimit };
}

export interface DodoOverview {
  webhooks: {
    failed: number;
    needsAttention: number;
    /** failed + needs_attention: deliveries staff should look at. */
    problems: number;
  };
  outbox: {
    pending: bigint;
    oldestPendingAt: Date | null;
    oldestPendingAgeSeconds: number | null;
    expired: bigint;
    failed: bigint;
  };
  measuredAt: Date;
}

/**
 * Dodo's health for the overview: webhook deliveries that failed or need attention, and how
 * far usage reporting lags (pending rows, the oldest pending one, rows that expired).
 */
export async function getDodoOverview(db: Db, now: Date = new Date()): Promise<DodoOverview> {
  const [webhooks, outbox] = await Promise.all([countWebhookEvents(db, { statuses: [...PROBLEM_STATUSES] }), outboxStatus(db, { now })]);
  return {
    webhooks: { failed: webhooks.failed, needsAttention: webhooks.needs_attention, problems: webhooks.failed + webhooks.needs_attention },
    outbox: {
      pending: outbox.counts.pending,
      oldestPendingAt: outbox.oldestPendingAt,
      oldestPendingAgeSeconds: outbox.oldestPendingAgeSeconds,
      expired: outbox.counts.expired,
      failed: outbox.counts.failed,
    },
    measuredAt: now,
  };
}
