import { z } from "zod";

import { DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY } from "./runner";
import { BACKFILL_METRICS, DIFF_KINDS } from "./types";

/**
 * The input shapes of the dashboard's backfill controls and reads. The tRPC `.types.ts`
 * file composes them; the domain functions parse with them too, so a direct caller (a test,
 * a script) gets the same typed BAD_REQUEST.
 */

/** What the dashboard may start: `verify` stays a command-line check (the Overview shows its figure). */
export const DASHBOARD_MODES = ["dry_run", "apply"] as const;

/** Organizations per keyset batch from the dashboard: one batch is one progress step. */
export const MAX_BATCH_SIZE = 10_000;
/**
 * Apply transactions at once. The run gets its own pool of `concurrency + 2` connections,
 * so this bounds what one dashboard click can take from the database.
 */
export const MAX_CONCURRENCY = 16;

export const runIdSchema = z.uuid({ error: "must be a backfill run id (UUID)" });

/** A slug prefix, as `--org-prefix` takes it (matched literally). Empty means every organization. */
export const orgPrefixSchema = z
  .string()
  .trim()
  .max(100, "must be at most 100 characters")
  .regex(/^\S*$/, "must be the start of a slug (no spaces)")
  .transform((v) => (v === "" ? undefined : v));

export const startRunSchema = z.object({
  mode: z.enum(DASHBOARD_MODES),
  batchSize: z.number().int().min(1).max(MAX_BATCH_SIZE).default(DEFAULT_BATCH_SIZE),
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).default(DEFAULT_CONCURRENCY),
  orgPrefix: orgPrefixSchema.optional(),
});
export type StartRunInput = z.input<typeof startRunSchema>;

/** Newest first: the keyset of the runs list is (started at, id), both descending. */
export const runCursorSchema = z.object({ startedAt: z.date(), id: z.uuid() });
export type RunCursor = z.infer<typeof runCursorSchema>;

export const diffFilterSchema = z.object({
  metric: z.enum(BACKFILL_METRICS).optional(),
  /** The row's `kind` as stored: a row with several faults is `both` (its flags say which). */
  kind: z.enum(DIFF_KINDS).optional(),
  /** An organization id (exact), or else the start of its slug. */
  org: z.string().trim().min(1).max(100).optional(),
});
export type DiffFilter = z.infer<typeof diffFilterSchema>;

/** The diff report's keyset is (org id, metric), the order of the CSV file too. */
export const diffCursorSchema = z.object({ orgId: z.uuid(), metric: z.enum(BACKFILL_METRICS) });
export type DiffCursor = z.infer<typeof diffCursorSchema>;

export const PAGE_MAX = 500;
