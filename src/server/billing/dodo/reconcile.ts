import { errorLine } from "@/server/db/pg-errors";
import type { Db } from "@/server/db/tx";

import type { SubscriptionEvent } from "./events";
import type { SyncResult } from "./subscription-sync";

/**
 * Reconciliation with Dodo: the subscriptions as the Dodo API has them now, applied like
 * webhook events, for `npm run reconcile` and the staff resync.
 */

/** The part of the `dodopayments` client reconciliation uses (the SDK's client fits). */
export interface DodoSubscriptionsApi {
  subscriptions: { retrieve(subscriptionId: string): PromiseLike<unknown> };
}

export interface ReconcileReport {
  checked: number;
  synced: number;
  /** Already up to date with a newer event than the fetch. */
  stale: number;
  problems: { subscriptionId: string; error: string }[];
}

/** Subscriptions fetched from Dodo at once by a reconciliation. */
const RECONCILE_CONCURRENCY = 4;

/**
 * Fetches each known subscription (or one org's) from the Dodo API and syncs it, so a lost
 * webhook cannot leave an org on the wrong plan. The fetched state is stamped with the time
 * the request was sent: webhooks older than that are then stale, newer ones still apply.
 * `sync` applies one fetched subscription in its own transaction.
 */
export async function reconcileSubscriptions(
  db: Db,
  sync: (event: SubscriptionEvent) => Promise<SyncResult>,
  api: DodoSubscriptionsApi,
  options: { orgId?: string; clock?: () => Date; concurrency?: number } = {},
): Promise<ReconcileReport> {
  const clock = options.clock ?? (() => new Date());
  const rows = await db.subscription.findMany({
    where: options.orgId ? { orgId: options.orgId } : {},
    select: { id: true },
    orderBy: { id: "asc" },
  });
  const report: ReconcileReport = { checked: 0, synced: 0, stale: 0, problems: [] };
  const reconcileOne = async (id: string) => {
    report.checked += 1;
    const fetchedAt = clock();
    try {
      const data: unknown = await api.subscriptions.retrieve(id);
      const result = await sync({
        id: `reconcile:${id}:${fetchedAt.toISOString()}`,
        type: "subscription.reconciled",
        timestamp: fetchedAt,
        data,
      });
      if (result.action === "stale") report.stale += 1;
      else report.synced += 1;
    } catch (error) {
      report.problems.push({ subscriptionId: id, error: errorLine(error) });
    }
  };
  // A few requests in flight: each subscription is its own fetch and its own transaction,
  // so thousands of them finish in minutes, not an hour, without flooding Dodo.
  let next = 0;
  const worker = async () => {
    while (next < rows.length) await reconcileOne((rows[next++] as { id: string }).id);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? RECONCILE_CONCURRENCY, rows.length)) }, worker));
  // Code-point order, not localeCompare: the same on every machine and locale (ids mix cases).
  report.problems.sort((a, b) => (a.subscriptionId < b.subscriptionId ? -1 : a.subscriptionId > b.subscriptionId ? 1 : 0));
  return report;
}
