import { generateOrg, type SeedOrg } from "@/server/seed/generate";
import { planForProduct } from "@/server/billing/catalogue";

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
