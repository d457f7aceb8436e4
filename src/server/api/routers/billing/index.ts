import { createTRPCRouter } from "@/server/api/trpc";
import { apiKeysRouter } from "./api-keys";
import { auditRouter } from "./audit";
import { backfillRouter } from "./backfill";
import { dodoRouter } from "./dodo";
import { entitlementsRouter } from "./entitlements";
import { ledgerRouter } from "./ledger";
import { orgsRouter } from "./orgs";
import { overridesRouter } from "./overrides";
import { staffRouter } from "./staff";
import { usageRouter } from "./usage";

/**
 * `billing.*`: one sub-router per area, each in the file named after its key (`apiKeys` in
 * api-keys.ts) with its zod schemas, in and out, in the `.types.ts` next to it. Add an area by
 * importing its router and listing it below.
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
