import type { PrismaClient } from "@/server/db/client";
import { recordAudit } from "../audit-log";
import { BillingError } from "../errors";
import type { BillingService, DodoSubscriptionsApi, ReconcileReport } from "./billing-service";

/**
 * A staff "resync from Dodo" of one organization: fetch each of its known subscriptions
 * from the Dodo API and sync it (`reconcileSubscriptions`), audit-logged with the rows
 * before and after. Knows nothing of tRPC or Next.
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
  service: Pick<BillingService, "reconcileSubscriptions">,
  api: DodoSubscriptionsApi | null,
  orgId: string,
  actor: string,
): Promise<ReconcileReport> {
  const org = await db.organization.findUnique({ where: { id: orgId }, select: { id: true } });
  if (!org) throw new BillingError("NOT_FOUND", "org_not_found", `Organization ${orgId} does not exist`);
  if (!api) throw new BillingError("PRECONDITION_FAILED", "dodo_api_key_missing", DODO_API_KEY_MISSING);

  const before = await subscriptionsOf(db, orgId);
  const report = await service.reconcileSubscriptions(api, { orgId });
  const after = await subscriptionsOf(db, orgId);
  await db.$transaction((tx) =>
    recordAudit(tx, {
      actor,
      action: "subscription.resync",
      target: { type: "organization", id: orgId },
      before: { subscriptions: before },
      after: { report, subscriptions: after },
    }),
  );
  return report;
}
