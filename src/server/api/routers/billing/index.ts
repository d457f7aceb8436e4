import { createTRPCRouter } from "@/server/api/trpc";

import { alertThresholdsRouter } from "./alert-thresholds";
import { apiKeysRouter } from "./api-keys";
import { auditRouter } from "./audit";
import { backfillRouter } from "./backfill";
import { dodoRouter } from "./dodo";
import { entitlementsRouter } from "./entitlements";
import { eventsRouter } from "./events";
import { ledgerRouter } from "./ledger";
import { orgsRouter } from "./orgs";
import { overridesRouter } from "./overrides";
import { staffRouter } from "./staff";
import { usageRouter } from "./usage";

/**
 * How a procedure reaches the domain, the same in every router: it passes what the context
 * hands it and builds nothing itself. A domain function gets `ctx.db()` as its database
 * (`listLedger(ctx.db(), …)`); a service comes wired from `ctx.billing()` (usage,
 * entitlements, apiKeys, overrides, dodo: built once, the hot path over the pg pool), also
 * when a domain function needs one (`adjustUsageAsStaff(ctx.db(), ctx.billing().usage, …)`).
 * No `new Service(…)`, no transaction and no Prisma call in a router: a write that must
 * commit with its audit row is one domain function that opens the transaction itself
 * (`createApiKeyAsStaff`, `setOverrideAsStaff`, `startRun`, …). See ARCHITECTURE.md.
 *
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
  alertThresholds: alertThresholdsRouter,
  ledger: ledgerRouter,
  dodo: dodoRouter,
  backfill: backfillRouter,
  events: eventsRouter,
});
