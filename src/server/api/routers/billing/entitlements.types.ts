import { z } from "zod";
import { actionSchema } from "@/server/billing/actions";
import { limitKindSchema, metricSchema } from "@/server/billing/catalogue";
import { REASON_CODES } from "@/server/billing/policy";
import { idempotencyKeySchema, metadataSchema, orgIdSchema, positiveAmount } from "@/server/billing/schemas";
import { ledgerEntrySchema } from "./usage.types";

/** Zod schemas of `billing.entitlements.*`. A denial is a normal output, not an error. */

export const checkInput = z.object({
  orgId: orgIdSchema,
  action: actionSchema,
  /** Bytes for file.upload / file.delete; defaults to 1 for the other actions. */
  amount: positiveAmount.optional(),
});

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
  plan: z.string(),
  subscriptionStatus: z.string(),
});

export const consumeInput = checkInput.extend({
  idempotencyKey: idempotencyKeySchema,
  metadata: metadataSchema.optional(),
});

export const consumeOutput = decisionSchema.extend({
  entry: ledgerEntrySchema.optional(),
  replayed: z.boolean(),
});
