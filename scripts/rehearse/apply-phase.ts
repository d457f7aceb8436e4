import { setTimeout as sleep } from "node:timers/promises";

import type pg from "pg";

import type { BackfillCliRun, BackfillStep } from "./backfill-cli";
import type { PhaseContext } from "./phases";
import type { RehearsalOptions } from "./rehearsal";
import { startTraffic } from "./traffic";
import { TRAFFIC_ACTOR_PREFIX, type WorkloadCounts } from "./workload";

/**
 * Phase B: `npm run backfill -- --apply` while worker processes add and remove members and
 * upload and delete files through consume, and proof that the traffic overlapped the apply.
 */

/** The rehearsal's options this phase reads: the traffic's shape, and the apply's settings. */
type ApplyUnderTrafficOptions = Pick<
  RehearsalOptions,
  | "seed"
  | "trafficSeconds"
  | "trafficProcesses"
  | "trafficLoops"
  | "batchSize"
  | "concurrency"
  | "orgsPerTransaction"
  | "uncountedProcesses"
>;

/** Runs the apply under live traffic; returns what the traffic did (null: it never reported). */
export async function applyUnderTraffic(
  phase: PhaseContext,
  databaseUrl: string,
  pool: pg.Pool,
  backfill: BackfillStep,
  options: ApplyUnderTrafficOptions,
): Promise<WorkloadCounts | null> {
  const live = startTraffic({
    databaseUrl,
    processes: options.trafficProcesses,
    loops: options.trafficLoops,
    seed: options.seed,
    uncountedProcesses: options.uncountedProcesses,
  });
  let run: BackfillCliRun["run"] = null;
  let traffic: WorkloadCounts | null = null;
  try {
    await live.ready;
    const trafficStarted = performance.now();
    const args = ["--apply"];
    if (options.batchSize) args.push("--batch-size", String(options.batchSize));
    if (options.concurrency) args.push("--concurrency", String(options.concurrency));
    if (options.orgsPerTransaction) args.push("--orgs-per-tx", String(options.orgsPerTransaction));
    run = await backfill(args);
    const left = options.trafficSeconds * 1000 - (performance.now() - trafficStarted);
    if (left > 0) await sleep(left);
    phase.counts.trafficSeconds = Number(((performance.now() - trafficStarted) / 1000).toFixed(1));
    traffic = await live.stop();
  } finally {
    live.kill();
  }
  const interleaving = run ? await trafficAround(pool, run.id, run.startedAt, run.finishedAt) : null;
  const t = traffic as WorkloadCounts | null;
  Object.assign(phase.counts, {
    orgsApplied: run?.orgsScanned ?? null,
    migrationRows: run?.deltasApplied ?? null,
    applySeconds: run?.finishedAt ? Number(((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(2)) : null,
    consumesApplied: t?.consumesApplied ?? null,
    consumesDuringApply: interleaving?.duringApply ?? null,
    consumesBeforeApplyReachedOrg: interleaving?.beforeMigrationRow ?? null,
    denied: t?.denied ?? null,
    refusedBelowZero: t?.refused ?? null,
    membersAdded: t?.membersAdded ?? null,
    membersRemoved: t?.membersRemoved ?? null,
    filesUploaded: t?.filesUploaded ?? null,
    filesDeleted: t?.filesDeleted ?? null,
    ...(options.uncountedProcesses ? { uncountedWrites: t?.uncountedWrites ?? null } : {}),
  });
  phase.expect(run?.status === "completed", `the apply run ended ${run?.status ?? "without a run"}`);
  phase.expect((t?.errors ?? 1) === 0, `the traffic hit ${t?.errors} unexpected errors${t?.firstError ? `, first: ${t.firstError}` : ""}`);
  phase.expect((interleaving?.duringApply ?? 0) > 0, "no consume committed while the apply ran: the traffic did not overlap it");
  return traffic;
}

/**
 * How the traffic interleaved with the apply: its ledger rows written while the run was in
 * progress (transactions that began after the run started and before it finished), and
 * those written on an (org, gauge) before the run's migration row for it — traffic the
 * apply had to absorb through its lock-then-recount protocol.
 */
async function trafficAround(
  pool: pg.Pool,
  runId: string,
  startedAt: Date,
  finishedAt: Date | null,
): Promise<{ duringApply: number; beforeMigrationRow: number }> {
  const { rows } = await pool.query<{ during: number; before: number }>(
    `SELECT (SELECT count(*) FROM usage_ledger
              WHERE actor LIKE $1 || '%' AND "timestamp" > $2 AND "timestamp" < COALESCE($3, now()))::int AS during,
            (SELECT count(*) FROM usage_ledger t JOIN usage_ledger m
               ON m.org_id = t.org_id AND m.metric = t.metric AND m.reason = 'migration' AND m.actor = 'backfill:' || $4
              WHERE t.actor LIKE $1 || '%' AND t."timestamp" < m."timestamp")::int AS before`,
    [TRAFFIC_ACTOR_PREFIX, startedAt, finishedAt, runId],
  );
  return { duringApply: rows[0]?.during ?? 0, beforeMigrationRow: rows[0]?.before ?? 0 };
}
