import type { PrismaClient } from "@/server/db/client";

import { recordAudit } from "../audit-log";
import { BillingError } from "../errors";
import type { DodoBilling } from "./dodo-billing";
import type { DodoSubscriptionsApi, ReconcileReport } from "./reconcile";

/**
 * A staff "resync from Dodo" of one organization — or, without an org, of every known
 * subscription (what `npm run reconcile` does): fetch each from the Dodo API and sync it
 * (`reconcileSubscriptions`), audit-logged — one org's with its rows before and after, all
 * of them with the report. Knows nothing of tRPC or Next.
 *
 * The audit row is written right AFTER the sync, not in its transaction: reconciliation
 * syncs each subscription in its own transaction (one per API call, so a slow or failing
 * fetch never holds a lock), and a partial result — some synced, some problems — is still
 * what happened and is what the row records.
 */

async function subscriptionsOf(db: PrismaClient, orgId: string) {
  return db.subscription.findMany({
    where: { orgId },
    orderBy: { id: "asc" },
    select: {
      id: true,
      productId: true,
      status: true,
      currentPeriodStart: true,
      currentPeriodEnd: true,
      cancelAtPeriodEnd: true,
      cancelledAt: true,
      expiresAt: true,
      lastEventAt: true,
      lastEventId: true,
    },
  });
}

export const DODO_API_KEY_MISSING = "DODO_PAYMENTS_API_KEY is not set";

/**
 * `api` is the Dodo client (`createDodoClient()`), null when no API key is configured: then
 * a typed PRECONDITION_FAILED, and nothing is fetched or written.
 */
export async function resyncOrganization(
  db: PrismaClient,
  service: Pick<DodoBilling, "reconcileSubscriptions">,
  api: DodoSubscriptionsApi | null,
  orgId: string | undefined,
  actor: string,
): Promise<ReconcileReport> {
  if (orgId !== undefined) {
    const org = await db.organization.findUnique({ where: { id: orgId }, select: { id: true } });
    if (!org) throw new BillingError("NOT_FOUND", "org_not_found", `Organization ${orgId} does not exist`);
  }
  if (!api) throw new BillingError("PRECONDITION_FAILED", "dodo_api_key_missing", DODO_API_KEY_MISSING);

  // Every subscription's rows would make one huge audit entry: the report says what changed.
  const before = orgId === undefined ? undefined : { subscriptions: await subscriptionsOf(db, orgId) };
  const report = await service.reconcileSubscriptions(api, { orgId });
  const after = orgId === undefined ? { report } : { report, subscriptions: await subscriptionsOf(db, orgId) };
  await db.$transaction((tx) =>
    recordAudit(tx, {
      actor,
      action: orgId === undefined ? "subscription.reconcile_all" : "subscription.resync",
      target: orgId === undefined ? { type: "subscriptions", id: "all" } : { type: "organization", id: orgId },
      before,
      after,
    }),
  );
  return report;
}
