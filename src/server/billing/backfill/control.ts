import { Prisma, type PrismaClient } from "@/server/db/client";
import type { Tx } from "@/server/db/tx";

import { recordAudit } from "../audit-log";
import { BillingError, parseInput } from "../errors";
import { backgroundBackfills, type BackfillLauncher } from "./background";
import { getRun, type RunView } from "./dashboard";
import { runIdSchema, startRunSchema, type StartRunInput } from "./dashboard-schemas";
import { isLive, livenessOf, stateOf } from "./liveness";
import type { BackfillMode, RunStatus } from "./types";

/**
 * The dashboard's backfill controls (admin): start, cancel, resume. Each writes the run row
 * and its audit entry in ONE transaction, then (start, resume) hands the run to the
 * in-process launcher, which executes it after the request has answered.
 *
 * Start and resume take one transaction-scoped advisory lock (`backfill:control`), so two
 * clicks cannot both pass the "is an apply already running here?" check. An apply is
 * refused (CONFLICT) while another live apply covers any of the same organizations: the
 * scopes overlap when either has no org prefix or one prefix starts with the other. (Two
 * applies over the same orgs would be correct — the lock-then-recount protocol of ./apply.ts
 * holds for any number of writers — but they would contend on every org's locks and write
 * two reports of the same fixes.) Live runs are seen whichever process executes them: the
 * CLI's runs hold the same advisory lock (./liveness.ts).
 */

const CONTROL_LOCK = Prisma.sql`SELECT pg_advisory_xact_lock(hashtextextended('backfill:control', 0))`;

const auditTarget = (runId: string) => ({ type: "backfill_run", id: runId });

/** Refuses an apply whose scope overlaps a live apply's (other than `except`). */
async function refuseOverlappingApply(tx: Tx, orgPrefix: string | null, except: string | null, launcher: BackfillLauncher): Promise<void> {
  const here = launcher.runningHere();
  const rows = await tx.$queryRaw<{ id: string; status: RunStatus; org_prefix: string | null; started_by: string }[]>(Prisma.sql`
    SELECT r.id::text AS id, r.status, r.org_prefix, r.started_by FROM backfill_runs r
    WHERE r.mode = 'apply' AND r.status IN ('running', 'cancelling')
      AND (${except}::uuid IS NULL OR r.id <> ${except}::uuid)
      AND (${orgPrefix}::text IS NULL OR r.org_prefix IS NULL
           OR starts_with(r.org_prefix, ${orgPrefix}::text) OR starts_with(${orgPrefix}::text, r.org_prefix))`);
  if (rows.length === 0) return;
  const liveness = await livenessOf(
    tx,
    rows.map((r) => r.id),
  );
  const live = rows.find((r) => isLive(stateOf(r.status, liveness.get(r.id), here.includes(r.id))));
  if (!live) return;
  const scope = live.org_prefix === null ? "every organization" : `organizations whose slug starts with "${live.org_prefix}"`;
  throw new BillingError(
    "CONFLICT",
    "backfill_apply_running",
    `An apply run is already running over ${scope} (run ${live.id}, started by ${live.started_by}); wait for it to end or cancel it`,
    { runId: live.id },
  );
}

/** Starts a dry run or an apply in the background; returns the run as recorded. */
export async function startRun(
  prisma: PrismaClient,
  input: StartRunInput,
  actor: string,
  launcher = backgroundBackfills(),
): Promise<RunView> {
  const spec = parseInput(startRunSchema, input);
  const orgPrefix = spec.orgPrefix ?? null;
  const startedBy = `${actor} (dashboard)`;
  const run = await prisma.$transaction(async (tx) => {
    await tx.$executeRaw(CONTROL_LOCK);
    if (spec.mode === "apply") await refuseOverlappingApply(tx, orgPrefix, null, launcher);
    const created = await tx.backfillRun.create({
      data: { mode: spec.mode, orgPrefix, batchSize: spec.batchSize, concurrency: spec.concurrency, startedBy },
    });
    await recordAudit(tx, {
      actor,
      action: "backfill_run.start",
      target: auditTarget(created.id),
      after: { mode: spec.mode, orgPrefix, batchSize: spec.batchSize, concurrency: spec.concurrency },
    });
    return created;
  });
  launcher.launch({ runId: run.id, mode: spec.mode, orgPrefix, batchSize: spec.batchSize, concurrency: spec.concurrency, startedBy });
  return getRun(prisma, run.id, launcher);
}

/**
 * Cancels a run. A live one is asked to stop after its current batch (status `cancelling`,
 * the same transition as `requestCancel` of ./runs.ts, made here so the audit entry shares
 * its transaction, and, when this process executes it, its abort signal too); its executor
 * records `cancelled` with the cursor it reached. An
 * interrupted one has no executor to ask, so it is marked `cancelled` at once (it can still
 * be resumed). Cancelling a run already stopping changes nothing; an ended run is CONFLICT.
 */
export async function cancelRun(prisma: PrismaClient, runId: string, actor: string, launcher = backgroundBackfills()): Promise<RunView> {
  const id = parseInput(runIdSchema, runId);
  const requested = await prisma.$transaction(async (tx) => {
    await tx.$executeRaw(CONTROL_LOCK);
    const before = await getRun(tx, id, launcher);
    if (before.state === "cancelling") return false;
    if (before.state !== "running" && before.state !== "interrupted") {
      throw new BillingError("CONFLICT", "backfill_run_not_running", `Run ${id} is ${before.state}; there is nothing to cancel`);
    }
    const next: RunStatus = before.state === "running" ? "cancelling" : "cancelled";
    const changed =
      next === "cancelling"
        ? await tx.$executeRaw`UPDATE backfill_runs SET status = 'cancelling', updated_at = now() WHERE id = ${id}::uuid AND status = 'running'`
        : await tx.$executeRaw`UPDATE backfill_runs SET status = 'cancelled', finished_at = now(), updated_at = now()
                               WHERE id = ${id}::uuid AND status IN ('running', 'cancelling')`;
    if (changed !== 1)
      throw new BillingError("CONFLICT", "backfill_run_not_running", `Run ${id} ended meanwhile; there is nothing to cancel`);
    await recordAudit(tx, {
      actor,
      action: "backfill_run.cancel",
      target: auditTarget(id),
      before: { status: before.status, state: before.state, orgsScanned: before.orgsScanned, cursor: before.cursor },
      after: { status: next },
    });
    return next === "cancelling";
  });
  // Executed here: also stop it in-process (covers a stop before its runner has started).
  if (requested) launcher.requestStop(id);
  return getRun(prisma, id, launcher);
}

/**
 * Resumes an interrupted, failed or cancelled run from its cursor, in the background (the
 * runner re-reads at most its last, unfinished batch). A live or completed run is CONFLICT;
 * an apply also when another live apply overlaps its scope.
 */
export async function resumeRun(prisma: PrismaClient, runId: string, actor: string, launcher = backgroundBackfills()): Promise<RunView> {
  const id = parseInput(runIdSchema, runId);
  const run = await prisma.$transaction(async (tx) => {
    await tx.$executeRaw(CONTROL_LOCK);
    const before = await getRun(tx, id, launcher);
    if (!before.canResume) {
      const why =
        before.state === "completed"
          ? "completed; there is nothing to resume"
          : `${before.state}; only an interrupted, failed or cancelled run can be resumed`;
      throw new BillingError("CONFLICT", "backfill_run_not_resumable", `Run ${id} is ${why}`);
    }
    if (before.mode === "apply") await refuseOverlappingApply(tx, before.orgPrefix, id, launcher);
    // Claimed now (fresh `updated_at`, status running), so it reads as alive until the
    // runner holds its lock, and a second click is refused above.
    await tx.$executeRaw`UPDATE backfill_runs SET status = 'running', error = NULL, finished_at = NULL, updated_at = now() WHERE id = ${id}::uuid`;
    await recordAudit(tx, {
      actor,
      action: "backfill_run.resume",
      target: auditTarget(id),
      before: { status: before.status, state: before.state, orgsScanned: before.orgsScanned, cursor: before.cursor },
      after: { status: "running" },
    });
    return before;
  });
  launcher.launch({
    runId: id,
    mode: run.mode as BackfillMode,
    orgPrefix: run.orgPrefix,
    batchSize: run.batchSize,
    concurrency: run.concurrency,
    startedBy: run.startedBy,
  });
  return getRun(prisma, id, launcher);
}
