import { createTRPCRouter } from "@/server/api/trpc";
import { backfillRouter } from "./backfill";
import { dodoRouter } from "./dodo";
import { entitlementsRouter } from "./entitlements";
import { ledgerRouter } from "./ledger";
import { orgsRouter } from "./orgs";
import { apiKeysRouter, auditRouter, overridesRouter, staffRouter } from "./staff";
import { usageRouter } from "./usage";

/**
 * `billing.*`: one sub-router per area, each in its own file next to this one. Add an area
 * by importing its router and listing it below (e.g. `usage`, `entitlements`).
 */
export const billingRouter = createTRPCRouter({
  orgs: orgsRouter,
  usage: usageRouter,
  entitlements: entitlementsRouter,
  staff: staffRouter,
  apiKeys: apiKeysRouter,
  audit: auditRouter,
  overrides: overridesRouter,
  ledger: ledgerRouter,
  dodo: dodoRouter,
  backfill: backfillRouter,
});
