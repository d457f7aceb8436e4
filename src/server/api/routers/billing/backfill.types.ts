import { z } from "zod";

import {
  diffCursorSchema,
  diffFilterSchema,
  PAGE_MAX,
  runCursorSchema,
  runIdSchema,
  startRunSchema,
} from "@/server/billing/backfill/dashboard-schemas";
import { RUN_STATES } from "@/server/billing/backfill/liveness";
import { BACKFILL_METRICS, BACKFILL_MODES, DIFF_KINDS, RUN_STATUSES } from "@/server/billing/backfill/types";
import { keysetPageSchema } from "@/server/billing/keyset-page";
import { pageLimitSchema } from "@/server/billing/schemas";

/** Zod schemas of `billing.backfill.*`: the runs, their diff reports, and the admin controls. */

export const listRunsInput = z.object({
  cursor: runCursorSchema.optional(),
  limit: pageLimitSchema(20, PAGE_MAX),
});

export const runIdInput = z.object({ runId: runIdSchema });

export const listDiffsInput = z.object({
  runId: runIdSchema,
  filter: diffFilterSchema.default({}),
  cursor: diffCursorSchema.optional(),
  limit: pageLimitSchema(50, PAGE_MAX),
});

export const startRunInput = startRunSchema;

const count = z.number().int().nonnegative();

export const runOutput = z.object({
  id: z.uuid(),
  mode: z.enum(BACKFILL_MODES),
  status: z.enum(RUN_STATUSES),
  state: z.enum(RUN_STATES),
  orgPrefix: z.string().nullable(),
  batchSize: count,
  concurrency: count,
  cursor: z.string().nullable(),
  orgsTotal: count,
  orgsScanned: count,
  mismatches: count,
  legacyMismatches: count,
  deltasApplied: count,
  cacheRepairs: count,
  remaining: count.nullable(),
  error: z.string().nullable(),
  startedBy: z.string(),
  startedAt: z.date(),
  updatedAt: z.date(),
  finishedAt: z.date().nullable(),
  progress: z.object({
    percent: z.number().min(0).max(100),
    orgsLeft: count,
    ratePerSecond: z.number().nonnegative().nullable(),
    etaSeconds: count.nullable(),
    elapsedSeconds: count,
    phase: z.enum(["scanning", "verifying", "ended"]),
  }),
  canCancel: z.boolean(),
  canResume: z.boolean(),
});

export const listRunsOutput = keysetPageSchema(runOutput, runCursorSchema);

const amount = z.bigint();

export const diffOutput = z.object({
  orgId: z.uuid(),
  orgSlug: z.string().nullable(),
  orgName: z.string().nullable(),
  metric: z.enum(BACKFILL_METRICS),
  kind: z.enum(DIFF_KINDS),
  legacyWrong: z.boolean(),
  cacheWrong: z.boolean(),
  ledgerWrong: z.boolean(),
  legacyValue: amount.nullable(),
  oldCount: amount,
  cacheBefore: amount.nullable(),
  ledgerBefore: amount,
  deltaApplied: amount,
  cacheRepaired: z.boolean(),
});

export const listDiffsOutput = keysetPageSchema(diffOutput, diffCursorSchema);

export const overviewOutput = z.object({
  lastRun: runOutput.nullable(),
  lastVerified: runOutput.nullable(),
  drift: z.discriminatedUnion("measured", [
    z.object({ measured: z.literal(true), mismatches: count, pairs: count, elapsedMs: count, checkedAt: z.date() }),
    z.object({ measured: z.literal(false), timeoutMs: count, checkedAt: z.date() }),
  ]),
});
