import { z } from "zod";

import { featureSchema, limitKindSchema, metricSchema } from "@/server/billing/catalogue";
import { checkInputSchema, consumeInputSchema } from "@/server/billing/entitlement-service";
import { REASON_CODES } from "@/server/billing/policy";
import { orgIdSchema } from "@/server/billing/schemas";

import { ledgerEntrySchema } from "./usage.types";

/** Zod schemas of `billing.entitlements.*`. A denial is a normal output, not an error. */

export const checkInput = checkInputSchema;

/** The figures of a decision; `plan` is "none" for an unknown org. */
const decisionFigures = {
  metric: metricSchema.optional(),
  /** null: unlimited. */
  limit: z.bigint().nullable().optional(),
  limitKind: limitKindSchema.optional(),
  limitOverridden: z.boolean().optional(),
  used: z.bigint().optional(),
  remaining: z.bigint().nullable().optional(),
  /** The window `used` counts in, [start, end): period counters only. */
  windowStart: z.date().optional(),
  windowEnd: z.date().optional(),
  plan: z.string(),
  subscriptionStatus: z.string(),
};
const reasonSchema = z.object({ code: z.enum(REASON_CODES), message: z.string() });

/** A denial always carries its reason; an allowance may carry a warning (soft limit, grace). */
function decisionWith<Extra extends z.ZodRawShape>(extra: Extra) {
  return z.discriminatedUnion("allowed", [
    z.object({ allowed: z.literal(true), reason: reasonSchema.optional(), ...decisionFigures, ...extra }),
    z.object({ allowed: z.literal(false), reason: reasonSchema, ...decisionFigures, ...extra }),
  ]);
}

export const decisionSchema = decisionWith({});

export const consumeInput = consumeInputSchema.omit({ actor: true });

export const consumeOutput = decisionWith({
  entry: ledgerEntrySchema.optional(),
  replayed: z.boolean(),
});

export const snapshotInput = z.object({ orgId: orgIdSchema });

/** One product page's worth, consistent as of one read (`asOf`). */
export const snapshotOutput = z.object({
  orgId: z.uuid(),
  plan: z.string(),
  subscriptionStatus: z.string(),
  /** When the grace period ends; null when the subscription is not in grace. */
  graceEndsAt: z.date().nullable(),
  metrics: z.array(
    z.object({
      metric: metricSchema,
      used: z.bigint(),
      /** null: unlimited. */
      limit: z.bigint().nullable(),
      limitKind: limitKindSchema,
      /** null: unlimited. */
      remaining: z.bigint().nullable(),
      overridden: z.boolean(),
      /** The window a period counter's usage is in, [start, end); null for a gauge. */
      windowStart: z.date().nullable(),
      windowEnd: z.date().nullable(),
      lastUpdated: z.date().nullable(),
    }),
  ),
  /** Every feature of the catalogue; enabled exactly when `check` allows `feature.<name>`. */
  features: z.array(z.object({ feature: featureSchema, enabled: z.boolean() })),
  asOf: z.date(),
});
