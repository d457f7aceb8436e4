import { planForProduct } from "@/server/billing/catalogue";
import { generateOrg, type SeedOrg } from "@/server/seed/generate";

import { subscriptionPayload, webhookPayload, type WebhookPayload } from "../tools/fake-dodo";

/**
 * The e2e data set: `scripts/e2e-server.ts` seeds exactly this into a fresh database with the
 * project's seed generator, and the specs derive what they expect from the same generator,
 * so neither side hard-codes names that could drift.
 */
export const E2E_SEED = 4242;
export const E2E_ORGS = 60;

/** Everything the e2e server seeded, in seed order (not display order). */
export function seededOrgs(): SeedOrg[] {
  // `now` only places subscription periods; names, plans and statuses do not depend on it.
  const now = new Date();
  return Array.from({ length: E2E_ORGS }, (_, index) => generateOrg(E2E_SEED, index, now));
}

/** The plan id an org is listed with: its subscription's product through the catalogue, else free. */
export function planIdOf(org: SeedOrg): string {
  return (org.subscription && planForProduct(org.subscription.productId)?.id) || "free";
}

/**
 * The Dodo webhook secret of the e2e server (`DODO_PAYMENTS_WEBHOOK_KEY` of `next start`);
 * the webhooks spec's fake Dodo signs with it. A fixed test value, never a real key.
 */
export const E2E_WEBHOOK_SECRET = `whsec_${Buffer.from("ledger-policy-e2e-webhook-secret").toString("base64")}`;

/**
 * Orgs of the webhooks spec, by seed index. Both are seeded on Business, active, and stay
 * active on a non-Pro plan, so the overview's active count and the Pro filter count other
 * specs check do not move, whichever spec runs first.
 */
export const E2E_WEBHOOK_ORGS = { planChange: 44, failedRenewal: 43 } as const;

/** The delivery scripts/e2e-server.ts records as a processing failure, for the replay spec. */
export const E2E_FAILED_WEBHOOK_ID = "msg_e2e_failed_renewal";

/**
 * That delivery's body: Dodo's `subscription.renewed` for the org's seeded subscription,
 * moving it into a period that starts `now` (so processing resets its period counters).
 */
export function failedRenewalPayload(now: Date): WebhookPayload {
  const org = seededOrgs()[E2E_WEBHOOK_ORGS.failedRenewal];
  if (!org?.subscription) throw new Error("the e2e data set has no subscribed org at the failed-renewal index");
  const periodEnd = new Date(now.getTime() + 30 * 86_400_000);
  const subscription = subscriptionPayload({
    orgId: org.id,
    subscription_id: org.subscription.id,
    product_id: org.subscription.productId,
    status: "active",
    periodStart: now,
    periodEnd,
  });
  return webhookPayload("subscription.renewed", subscription, now);
}
