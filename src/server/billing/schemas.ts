import { z } from "zod";
import { metricSchema } from "./catalogue";

/** Shared input shapes of the domain; the tRPC `.types.ts` files compose them. */

export const orgIdSchema = z.uuid({ error: "must be an organization id (UUID)" });

/** A count or byte amount: a BigInt, or an integer / digit string the JSON transport carries. */
export const bigIntAmount = z
  .union([
    z.bigint(),
    z.number().int({ error: "must be an integer" }).refine(Number.isSafeInteger, "must be a safe integer; send larger amounts as a string"),
    z.string().regex(/^-?\d{1,19}$/, "must be an integer"),
  ])
  .transform((v) => BigInt(v))
  .refine((v) => v >= -(2n ** 63n - 1n) && v <= 2n ** 63n - 1n, "must fit in 64 bits");

export const positiveAmount = bigIntAmount.refine((v) => v > 0n, "must be greater than zero");
export const nonZeroAmount = bigIntAmount.refine((v) => v !== 0n, "must not be zero");

export const reasonSchema = z
  .string()
  .regex(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/, "must be a snake_case word such as member_added")
  .max(64);

export const idempotencyKeySchema = z.string().trim().min(1).max(255);
export const actorSchema = z.string().trim().min(1).max(200);

export const metadataSchema = z
  .record(z.string(), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 16_384, "must be at most 16 KiB as JSON");

export const incrementInputSchema = z.object({
  orgId: orgIdSchema,
  metric: metricSchema,
  amount: nonZeroAmount,
  reason: reasonSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  actor: actorSchema.optional(),
  metadata: metadataSchema.optional(),
});
export type IncrementInput = z.infer<typeof incrementInputSchema>;
