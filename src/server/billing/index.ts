import "server-only"; // the services over the database: a client component importing this fails the build

import type pg from "pg";

import { db, type PrismaClient } from "@/server/db/client";
import { transactionViaPool, viaPool } from "@/server/db/raw-query";

import { ApiKeyService } from "./api-keys";
import { DodoBilling } from "./dodo/dodo-billing";
import { EntitlementService } from "./entitlement-service";
import { LimitOverrideService } from "./limit-overrides";
import { UsageService } from "./usage-service";

/** The domain module's services, wired to one Prisma client. No tRPC, no Next. */
export interface BillingServices {
  usage: UsageService;
  entitlements: EntitlementService;
  apiKeys: ApiKeyService;
  overrides: LimitOverrideService;
  /** Dodo Payments: webhooks, subscription sync, reconciliation. */
  dodo: DodoBilling;
}

/**
 * `pool`: the pool under `client` (from `createDatabase`); given, `check`, `consume` and
 * `increment` run their statements on it directly when the caller passes no transaction
 * (the hot path: Prisma's query pipeline costs more CPU than the statement itself here).
 * `clock`: the time the services decide and record at (default: the wall clock); tests and
 * the demo seed set it to write history as it would have happened.
 */
export function createBillingServices(client: PrismaClient, options: { pool?: pg.Pool; clock?: () => Date } = {}): BillingServices {
  const hotPath = options.pool ? viaPool(options.pool) : undefined;
  const clock = options.clock ?? (() => new Date());
  const usage = new UsageService(client, hotPath, clock);
  return {
    usage,
    entitlements: new EntitlementService(client, usage, clock, hotPath, options.pool ? transactionViaPool(options.pool) : undefined),
    apiKeys: new ApiKeyService(client),
    overrides: new LimitOverrideService(client),
    dodo: new DodoBilling(client, usage),
  };
}

// On globalThis, not in module scope: Next.js may load this module once per route bundle,
// and every bundle should get the same services over the same pool (db()).
const SHARED_SERVICES = Symbol.for("ledger-policy-billing.billing-services");
type WithServices = typeof globalThis & { [SHARED_SERVICES]?: BillingServices };

/** The process-wide services over the process-wide client (created on first use). */
export function billing(): BillingServices {
  const scope = globalThis as WithServices;
  scope[SHARED_SERVICES] ??= createBillingServices(db().prisma, { pool: db().pool });
  return scope[SHARED_SERVICES];
}
