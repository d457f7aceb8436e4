import { type PrismaClient, prisma } from "@/server/db/client";
import { ApiKeyService } from "./api-keys";
import { BillingService } from "./dodo/billing-service";
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
  dodo: BillingService;
}

export function createBillingServices(client: PrismaClient): BillingServices {
  const usage = new UsageService(client);
  return {
    usage,
    entitlements: new EntitlementService(client, usage),
    apiKeys: new ApiKeyService(client),
    overrides: new LimitOverrideService(client),
    dodo: new BillingService(client, usage),
  };
}

let shared: BillingServices | undefined;

/** The process-wide services over the process-wide client (created on first use). */
export function billing(): BillingServices {
  shared ??= createBillingServices(prisma());
  return shared;
}
