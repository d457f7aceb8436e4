import { z } from "zod";

import { limitKindSchema, metricSchema } from "@/server/billing/catalogue";
import { incrementInputSchema, orgIdSchema } from "@/server/billing/schemas";
import { MAX_BATCH } from "@/server/billing/usage-service";

/** Zod schemas of `billing.usage.*`: the product app's wire contract, in and out. */

export const ledgerEntrySchema = z.object({
  id: z.uuid(),
  orgId: z.uuid(),
  metric: metricSchema,
  delta: z.bigint(),
  reason: z.string(),
  timestamp: z.date(),
  idempotencyKey: z.string().nullable(),
  actor: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});

/** The domain's increment (signed `amount`: negative frees usage); the actor is the API key, never input. */
export const incrementInput = incrementInputSchema.omit({ actor: true });

export const incrementOutput = z.object({
  entry: ledgerEntrySchema,
  count: z.bigint(),
  replayed: z.boolean(),
});

/** The shape an event should have; each is validated on its own by the service, so one
 * malformed event is rejected in its result instead of failing the whole batch. */
export type IncrementEvent = z.input<typeof incrementInput>;
const eventSlot = z.custom<IncrementEvent>((v) => typeof v === "object" && v !== null && !Array.isArray(v), {
  message: "each event must be an object",
});

export const incrementManyInput = z.object({
  events: z.array(eventSlot).min(1).max(MAX_BATCH),
  /** All or nothing: any rejected event rejects the batch (BAD_REQUEST), nothing written. */
  atomic: z.boolean().default(false),
});

const reasonOut = z.object({ code: z.string(), message: z.string() });

export const incrementManyOutput = z.object({
  results: z.array(
    z.discriminatedUnion("status", [
      z.object({ index: z.number().int(), status: z.literal("applied"), entry: ledgerEntrySchema }),
      z.object({
        index: z.number().int(),
        status: z.literal("duplicate"),
        entryId: z.string().nullable(),
        duplicateOf: z.enum(["batch", "history"]),
      }),
      z.object({ index: z.number().int(), status: z.literal("rejected"), reason: reasonOut }),
    ]),
  ),
});

export const getUsageInput = z.object({ orgId: orgIdSchema });

export const getUsageOutput = z.object({
  orgId: z.uuid(),
  plan: z.string(),
  subscriptionStatus: z.string(),
  metrics: z.array(
    z.object({
      metric: metricSchema,
      count: z.bigint(),
      /** null: unlimited. */
      limit: z.bigint().nullable(),
      limitKind: limitKindSchema,
      limitOverridden: z.boolean(),
      remaining: z.bigint().nullable(),
      lastUpdated: z.date().nullable(),
      /** The window a period counter's count is in, [start, end); null for a gauge. */
      windowStart: z.date().nullable(),
      windowEnd: z.date().nullable(),
    }),
  ),
});
