import type { Db } from "@/server/db/tx";

import { outboxStatus } from "./dodo/outbox-status";
import { countWebhookEvents } from "./dodo/webhook-events";
import { PROBLEM_STATUSES } from "./dodo/webhook-status";
import { nearLimitCounts, type NearLimitCounts } from "./near-limit";
import { foldLedger } from "./rollup/fold";
import { checkUsageIntegrity, type IntegrityCheck } from "./rollup/integrity";

export type { IntegrityCheck };

/**
 * Headline numbers for the staff overview. Knows nothing of tRPC or Next.
 */

export interface BillingOverview {
  organizations: number;
  /** Subscriptions whose status is `active`. */
  activeSubscriptions: number;
  integrity: IntegrityCheck;
  checkedAt: Date;
  /** Orgs at ≥ 80 % and ≥ 100 % of any hard or soft limit. */
  nearLimit: NearLimitCounts;
}

export async function getBillingOverview(db: Db): Promise<BillingOverview> {
  const organizations = await db.organization.count();
  const activeSubscriptions = await db.subscription.count({ where: { status: "active" } });
  // Fold first so the check reads a short tail; it is exact either way.
  await foldLedger(db);
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
