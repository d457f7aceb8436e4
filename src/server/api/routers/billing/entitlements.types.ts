import { z } from "zod";

import { limitKindSchema, metricSchema } from "@/server/billing/catalogue";
import { checkInputSchema, consumeInputSchema } from "@/server/billing/entitlement-service";
import { REASON_CODES } from "@/server/billing/policy";

import { ledgerEntrySchema } from "./usage.types";

/** Zod schemas of `billing.entitlements.*`. A denial is a normal output, not an error. */

export const checkInput = checkInputSchema;

export const decisionSchema = z.object({
  allowed: z.boolean(),
  reason: z.object({ code: z.enum(REASON_CODES), message: z.string() }).optional(),
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
});

export const consumeInput = consumeInputSchema.omit({ actor: true });

export const consumeOutput = decisionSchema.extend({
  entry: ledgerEntrySchema.optional(),
  replayed: z.boolean(),
});
