import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { cancelRun, resumeRun, startRun } from "@/server/billing/backfill/control";
import { getRun, listDiffs, listRuns } from "@/server/billing/backfill/dashboard";
import { backfillOverview } from "@/server/billing/backfill/drift";

import {
  listDiffsInput,
  listDiffsOutput,
  listRunsInput,
  listRunsOutput,
  overviewOutput,
  runIdInput,
  runOutput,
  startRunInput,
} from "./backfill.types";

/**
 * `billing.backfill.*`: the Backfill page. Reads for every member of staff; starting,
 * cancelling and resuming runs for admins (each with its audit entry in the same
 * transaction as the run row). A started run executes in the background of the server
 * process; the page polls `get` for its progress. The CSV of a diff report is a route
 * handler (`/api/backfill/<runId>/diffs`), because it streams.
 */
export const backfillRouter = createTRPCRouter({
  /** Runs, newest first, keyset-paginated (`nextCursor`). */
  list: staffProcedure("viewer")
    .input(listRunsInput)
    .output(listRunsOutput)
    .query(({ ctx, input }) => listRuns(ctx.db(), input)),

  /** One run with its progress (percent, rate, ETA) and whether it can be cancelled or resumed. */
  get: staffProcedure("viewer")
    .input(runIdInput)
    .output(runOutput)
    .query(({ ctx, input }) => getRun(ctx.db(), input.runId)),

  /** One page of a run's diff report, filtered by metric, kind and org (id or slug prefix). */
  diffs: staffProcedure("viewer")
    .input(listDiffsInput)
    .output(listDiffsOutput)
    .query(({ ctx, input }) => listDiffs(ctx.db(), input.runId, input)),

  /** The Overview card: the last run, the last whole-database verification, the drift now. */
  overview: staffProcedure("viewer")
    .output(overviewOutput)
    .query(({ ctx }) => backfillOverview(ctx.db())),

  /** Starts a dry run or an apply in the background; CONFLICT while an overlapping apply runs. */
  start: staffProcedure("admin")
    .input(startRunInput)
    .output(runOutput)
    .mutation(({ ctx, input }) => startRun(ctx.db(), input, ctx.actor)),

  /** Asks a running run to stop after its current batch (an interrupted one is marked cancelled). */
  cancel: staffProcedure("admin")
    .input(runIdInput)
    .output(runOutput)
    .mutation(({ ctx, input }) => cancelRun(ctx.db(), input.runId, ctx.actor)),

  /** Continues an interrupted, failed or cancelled run from its cursor, in the background. */
  resume: staffProcedure("admin")
    .input(runIdInput)
    .output(runOutput)
    .mutation(({ ctx, input }) => resumeRun(ctx.db(), input.runId, ctx.actor)),
});
