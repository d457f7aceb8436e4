import { z } from "zod";

import { metricSchema } from "./catalogue";
import { metadataProblem, unstorableText } from "./storable";

/** Shared input shapes of the domain; the tRPC `.types.ts` files compose them. */

export { UUID_PATTERN, UUID_SOURCE } from "./uuid";

/** `{ id }` of a row addressed by its UUID (an API key, a limit override). */
export const rowIdInput = z.object({ id: z.uuid() });

/**
 * The most rows one page of a staff list returns (the ledger, webhook deliveries, unsent
 * usage, the audit log, denials): enough to scan at once, small enough to render.
 */
export const LIST_PAGE_MAX = 200;

/** A page's `limit` input: an integer from 1 to `max`, `fallback` when absent. */
export const pageLimitSchema = (fallback: number, max: number = LIST_PAGE_MAX) => z.number().int().min(1).max(max).default(fallback);

/**
 * One UUID rule for every procedure: any case is accepted and the canonical lower-case form
 * (what PostgreSQL returns for a uuid) is what the domain sees, so an id compared in
 * JavaScript (a batch's known orgs, its idempotency keys) matches the database's.
 */
export const orgIdSchema = z.uuid({ error: "must be an organization id (UUID)" }).transform((id) => id.toLowerCase());

/** The largest count or amount: PostgreSQL's BIGINT. */
export const INT64_MAX = 2n ** 63n - 1n;

/** A count or byte amount: a BigInt, or an integer / digit string the JSON transport carries. */
export const bigIntAmount = z
  .union([
    z.bigint(),
    z.number().int({ error: "must be an integer" }).refine(Number.isSafeInteger, "must be a safe integer; send larger amounts as a string"),
    z.string().regex(/^-?\d{1,19}$/, "must be an integer"),
  ])
  .transform((v) => BigInt(v))
  .refine((v) => v >= -INT64_MAX && v <= INT64_MAX, "must fit in 64 bits");

export const positiveAmount = bigIntAmount.refine((v) => v > 0n, "must be greater than zero");
export const nonZeroAmount = bigIntAmount.refine((v) => v !== 0n, "must not be zero");

/** A ledger reason: a snake_case word, at most `REASON_MAX` characters. */
export const REASON_PATTERN = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
export const REASON_MAX = 64;
export const reasonSchema = z.string().regex(REASON_PATTERN, "must be a snake_case word such as member_added").max(REASON_MAX);

/** Text the domain stores: refused, never rewritten, when PostgreSQL cannot hold it as sent.
 * (Over HTTP the API edge refuses it first, for every field; this covers in-process callers.) */
export const storableText = (schema: z.ZodString) =>
  schema.superRefine((text, ctx) => {
    const problem = unstorableText(text);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const IDEMPOTENCY_KEY_MAX = 255;
export const ACTOR_MAX = 200;
export const idempotencyKeySchema = storableText(z.string().trim().min(1).max(IDEMPOTENCY_KEY_MAX));
export const actorSchema = storableText(z.string().trim().min(1).max(ACTOR_MAX));

/** Ledger metadata: the one rule of `metadataProblem` (JSON data, storable, ≤ 32 deep, ≤ 16 KiB). */
export const metadataSchema = z.custom<Record<string, unknown>>().superRefine((metadata, ctx) => {
  const problem = metadataProblem(metadata);
  if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
});

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
