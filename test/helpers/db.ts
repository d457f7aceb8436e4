import { randomBytes } from "node:crypto";

import { inject } from "vitest";

import { createDatabase, type DatabaseHandle, type Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { current } from "./db-handle";

export { closeTestDatabase } from "./db-handle";

/**
 * This run's migrated database (see test/setup/global-setup.ts): one client and pool per
 * test file, closed after it by test/setup/worker.ts. Tests share its tables, so each one
 * works on its own organizations and never truncates or deletes others' rows.
 */
export function testDatabase(): DatabaseHandle {
  current.handle ??= createDatabase(inject("databaseUrl"), { max: 4, applicationName: "vitest" });
  return current.handle;
}

/** A short random suffix for names that must be unique across tests and runs. */
export function uniqueSuffix(): string {
  return randomBytes(6).toString("hex");
}

/** Inserts an organization with a unique name and slug (overridable) and returns it. */
export async function newOrg(prisma: Db, overrides: Partial<Prisma.OrganizationUncheckedCreateInput> = {}) {
  const suffix = uniqueSuffix();
  return prisma.organization.create({
    data: { name: `Test org ${suffix}`, slug: `test-org-${suffix}`, ...overrides },
  });
}

/** Inserts a subscription for an org: an active Pro one unless `overrides` say otherwise. */
export async function newSubscription(prisma: Db, orgId: string, overrides: Partial<Prisma.SubscriptionUncheckedCreateInput> = {}) {
  return prisma.subscription.create({
    data: { id: `sub_${uniqueSuffix()}`, orgId, productId: "pdt_billing_pro", status: "active", ...overrides },
  });
}

/**
 * Lifts `metric`'s limit for an org. api.call also counts the calls of the hour (actions.ts
 * `also`) and answers about the metric with the least room: a test about api_calls' own
 * window lifts api_calls_hourly's limit so that api.call answers about api_calls.
 */
export async function unlimitedOverride(prisma: Db, orgId: string, metric: string) {
  return prisma.limitOverride.create({ data: { orgId, metric, kind: "unlimited", note: `test: ${metric} unlimited`, createdBy: "test" } });
}
