import { setTimeout as sleep } from "node:timers/promises";

import type pg from "pg";

import { createBillingServices } from "@/server/billing";
import { createDatabase } from "@/server/db/client";
import { migrate, MigrationError } from "@/server/db/migrator";
import { seedDatabase } from "@/server/seed";

import { checkRehearsalMigrations, CLEANUP_MIGRATION, CLEANUP_REFUSAL, HOST_TABLES_MIGRATION, migrationBefore } from "../../tools";
import { runBackfillCli, type BackfillCliRun } from "./backfill-cli";
import { runEnforcementChecks } from "./enforcement";
import { RehearsalError } from "./errors";
import { PhaseRecorder, type PhaseContext, type PhaseReport } from "./phases";
import { startTraffic } from "./traffic";
import { agreement, hostTotals, legacyDriftPairs, schemaState } from "./truth";
import { TRAFFIC_ACTOR_PREFIX, type WorkloadCounts } from "./workload";

/**
 * The migration rehearsal: the whole runbook, on a FRESH database, with the old app's data
 * and live traffic, every phase checked.
 *
 *   1. migrate --to the host tables (the old app, before billing)
 *   2. seed legacy data: members, teams, files counted by nobody; the JSONB off for some orgs
 *   3. Phase A: migrate the billing tables (everything but the cleanup)
 *   4. npm run backfill -- --dry-run (the diff report)
 *   5. Phase B: npm run backfill -- --apply WHILE worker processes add/remove members and
 *      upload/delete files through consume, each in the transaction of its row change
 *   6. npm run backfill -- --verify, and the rehearsal's own SQL: cache == SUM(ledger) == old count
 *   7. Phase C: enforcement through the policy on the backfilled counts
 *   8. Step 6: the cleanup migration (drops organizations.usage). After a failed verify its
 *      own guard refuses it: the phase reports the refusal (failed) and 9 is skipped
 *   9. npm run backfill -- --verify again, without the legacy column
 */

export interface RehearsalOptions {
  /** An EMPTY database (the rehearsal refuses one with tables). */
  databaseUrl: string;
  orgs: number;
  seed: number;
  /** How long the traffic runs, from before the apply starts (at least as long as the apply). */
  trafficSeconds: number;
  /** Traffic worker processes, and transactions in flight in each. */
  trafficProcesses: number;
  trafficLoops: number;
  /** Passed to `npm run backfill -- --apply`. */
  batchSize?: number;
  concurrency?: number;
  orgsPerTransaction?: number;
  /**
   * Extra workers that add members WITHOUT counting them (a code path the switchover
   * missed): the verify must then fail. Off by default; a demonstration of what a miss looks like.
   */
  uncountedProcesses?: number;
  log?: (line: string) => void;
}

export interface RehearsalReport {
  ok: boolean;
  totalMs: number;
  phases: PhaseReport[];
  traffic: WorkloadCounts | null;
}

const PHASES = 9;

export async function rehearse(options: RehearsalOptions): Promise<RehearsalReport> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const recorder = new PhaseRecorder(PHASES, log);
  await checkRehearsalMigrations();
  const { databaseUrl } = options;
  const handle = createDatabase(databaseUrl, { max: 4, applicationName: "npm run rehearse" });
  const pool = handle.pool;
  let traffic: WorkloadCounts | null = null;
  const backfill = (phase: PhaseContext, args: string[]) => runBackfillCliChecked(phase, databaseUrl, pool, args);

  try {
    const fresh = await schemaState(pool);
    if (fresh.tables > 0) throw new RehearsalError(`the database is not empty (${fresh.tables} tables): a rehearsal needs a fresh one`);

    await recorder.run("migrate_host_tables", `migrate --to ${HOST_TABLES_MIGRATION} (the old app, before billing)`, async (phase) => {
      const result = await migrate(databaseUrl, { to: HOST_TABLES_MIGRATION });
      const state = await schemaState(pool);
      phase.counts.migrationsApplied = result.applied.length;
      phase.counts.pending = result.pending.length;
      phase.expect(!state.billingTables && state.legacyColumn, "expected the host tables with organizations.usage and no billing tables");
    });

    await recorder.run("seed_legacy", "seed legacy data (no ledger, no cache; the usage JSONB drifted for some orgs)", async (phase) => {
      const seeded = await seedDatabase(pool, { orgs: options.orgs, seed: options.seed, legacyOnly: true });
      const totals = await hostTotals(pool);
      const drift = await legacyDriftPairs(pool);
      Object.assign(phase.counts, {
        orgs: totals.orgs,
        members: totals.members,
        teams: totals.teams,
        files: totals.files,
        storageBytes: totals.storageBytes.toString(),
        legacyJsonbWrongOrgs: drift.orgs,
        legacyJsonbWrongPairs: drift.pairs,
        seconds: Number((seeded.elapsedMs / 1000).toFixed(2)),
      });
      phase.expect(seeded.legacyUsage && seeded.ledgerRows === 0, "the seed must write the legacy JSONB and no ledger rows");
      phase.expect(totals.orgs === options.orgs && totals.members === seeded.members, "the host tables do not hold what the seed reported");
      phase.expect(drift.pairs > 0, "no organization has a drifted legacy JSONB value");
    });

    await recorder.run("phase_a_migrate", "Phase A: migrate the billing tables (all but the cleanup)", async (phase) => {
      const to = await migrationBefore(CLEANUP_MIGRATION);
      const result = await migrate(databaseUrl, { to });
      const state = await schemaState(pool);
      const ledger = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_ledger");
      Object.assign(phase.counts, {
        migrationsApplied: result.applied.length,
        pending: result.pending.length,
        ledgerRows: ledger.rows[0]?.n ?? -1,
      });
      phase.expect(result.pending.length === 1 && result.pending[0] === CLEANUP_MIGRATION, `only ${CLEANUP_MIGRATION} may be left pending`);
      phase.expect(state.billingTables && state.legacyColumn, "expected the billing tables beside organizations.usage");
      phase.expect(ledger.rows[0]?.n === 0, "the ledger must start empty");
    });

    await recorder.run("dry_run", "npm run backfill -- --dry-run (the diff report, nothing written)", async (phase) => {
      const totals = await hostTotals(pool);
      const drift = await legacyDriftPairs(pool);
      const run = await backfill(phase, ["--dry-run"]);
      const ledger = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_ledger");
      Object.assign(phase.counts, {
        orgsScanned: run?.orgsScanned ?? null,
        billingMismatches: run?.mismatches ?? null,
        legacyMismatches: run?.legacyMismatches ?? null,
      });
      // Nothing is on the ledger yet: every non-zero old count is missing from it.
      phase.expect(
        run?.mismatches === totals.nonZeroPairs,
        `expected ${totals.nonZeroPairs} billing mismatches (every non-zero old count), got ${run?.mismatches}`,
      );
      phase.expect(
        run?.legacyMismatches === drift.pairs,
        `expected ${drift.pairs} legacy mismatches (the seeded drift), got ${run?.legacyMismatches}`,
      );
      phase.expect(ledger.rows[0]?.n === 0, "a dry run must not write the ledger");
    });

    await recorder.run(
      "phase_b_apply_under_traffic",
      `Phase B: npm run backfill -- --apply under live traffic (${options.trafficProcesses} processes × ${options.trafficLoops} transactions, ${options.trafficSeconds} s)`,
      async (phase) => {
        const live = startTraffic({
          databaseUrl,
          processes: options.trafficProcesses,
          loops: options.trafficLoops,
          seed: options.seed,
          uncountedProcesses: options.uncountedProcesses,
        });
        let run: BackfillCliRun["run"] = null;
        try {
          await live.ready;
          const trafficStarted = performance.now();
          const args = ["--apply"];
          if (options.batchSize) args.push("--batch-size", String(options.batchSize));
          if (options.concurrency) args.push("--concurrency", String(options.concurrency));
          if (options.orgsPerTransaction) args.push("--orgs-per-tx", String(options.orgsPerTransaction));
          run = await backfill(phase, args);
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
        phase.expect(
          (t?.errors ?? 1) === 0,
          `the traffic hit ${t?.errors} unexpected errors${t?.firstError ? `, first: ${t.firstError}` : ""}`,
        );
        phase.expect((interleaving?.duringApply ?? 0) > 0, "no consume committed while the apply ran: the traffic did not overlap it");
      },
    );

    await recorder.run("verify", "npm run backfill -- --verify, and cache == SUM(ledger) == old count by SQL", async (phase) => {
      await verifyPhase(phase, (args) => backfill(phase, args), pool, "present");
    });

    await recorder.run("phase_c_enforcement", "Phase C: enforcement through the policy on the backfilled counts", async (phase) => {
      const checks = await runEnforcementChecks(handle.prisma, pool, createBillingServices(handle.prisma));
      phase.counts.checks = checks.length;
      phase.counts.passed = checks.filter((c) => c.ok).length;
      for (const check of checks) {
        log(`      ${check.ok ? "✓" : "✗"} ${check.name}: ${check.detail}`);
        phase.expect(check.ok, `${check.name}: ${check.detail}`);
      }
      const after = await agreement(pool);
      phase.expect(after.mismatches === 0 && after.cacheLedgerDrift === 0, `the checks left ${after.mismatches} mismatches`);
    });

    // Step 6 is only for a database whose verify passed: otherwise the migration's own guard
    // must refuse it (rolled back, nothing recorded, organizations.usage kept).
    const verified = recorder.phases.find((p) => p.key === "verify")?.ok === true;
    const cleanupTitle = verified
      ? `Step 6: migrate (applies ${CLEANUP_MIGRATION})`
      : `Step 6: migrate (the verify failed: ${CLEANUP_MIGRATION} must refuse to run)`;
    const cleanup = await recorder.run("cleanup_migration", cleanupTitle, async (phase) => {
      let applied: string[] = [];
      let refusal: string | null = null;
      try {
        applied = (await migrate(databaseUrl)).applied;
      } catch (error) {
        if (!(error instanceof MigrationError && CLEANUP_REFUSAL.test(error.message))) throw error;
        refusal = error.message;
      }
      const state = await schemaState(pool);
      const recorded = await pool.query(`SELECT 1 FROM "_prisma_migrations" WHERE migration_name = $1`, [CLEANUP_MIGRATION]);
      Object.assign(phase.counts, {
        migrationsApplied: applied.length,
        refused: refusal !== null,
        legacyColumn: state.legacyColumn ? "present" : "absent",
      });
      if (refusal !== null) {
        // Never a pass: Step 6 did not happen. Expected when the verify failed, a fault otherwise.
        phase.expect(
          false,
          verified ? `refused although the verify passed: ${refusal}` : `refused, as it must be after a failed verify: ${refusal}`,
        );
        phase.expect(state.legacyColumn, "the refused migration dropped organizations.usage anyway");
        phase.expect(recorded.rowCount === 0, `the refused ${CLEANUP_MIGRATION} is recorded in _prisma_migrations`);
        return;
      }
      phase.expect(verified, `${CLEANUP_MIGRATION} was applied although the verify failed`);
      phase.expect(
        applied.length === 1 && applied[0] === CLEANUP_MIGRATION,
        `expected exactly ${CLEANUP_MIGRATION}, applied ${applied.join(", ")}`,
      );
      phase.expect(!state.legacyColumn, "organizations.usage still exists");
    });

    const verifyAgainTitle = "npm run backfill -- --verify again, without the legacy column";
    if (cleanup.counts.refused === true) {
      recorder.skip("verify_after_cleanup", verifyAgainTitle, "the cleanup migration was refused");
    } else {
      await recorder.run("verify_after_cleanup", verifyAgainTitle, async (phase) => {
        await verifyPhase(phase, (args) => backfill(phase, args), pool, "absent");
      });
    }
  } finally {
    await handle.close();
  }
  const phases = recorder.phases;
  return { ok: phases.length === PHASES && phases.every((p) => p.ok), totalMs: performance.now() - started, phases, traffic };
}

/** Runs the CLI; a non-zero exit is a failed check (its output kept), not an exception. */
async function runBackfillCliChecked(
  phase: PhaseContext,
  databaseUrl: string,
  pool: pg.Pool,
  args: string[],
): Promise<BackfillCliRun["run"]> {
  const result = await runBackfillCli(databaseUrl, pool, args);
  phase.keepOutput(result.output);
  phase.counts.exitCode = result.exitCode;
  phase.expect(result.exitCode === 0, `npm run backfill -- ${args.join(" ")} exited ${result.exitCode}`);
  phase.expect(result.run !== null, "the backfill recorded no run");
  return result.run;
}

async function verifyPhase(
  phase: PhaseContext,
  backfill: (args: string[]) => Promise<BackfillCliRun["run"]>,
  pool: pg.Pool,
  legacyColumn: "present" | "absent",
): Promise<void> {
  const state = await schemaState(pool);
  const run = await backfill(["--verify"]);
  const truth = await agreement(pool);
  Object.assign(phase.counts, {
    legacyColumn: state.legacyColumn ? "present" : "absent",
    orgsVerified: run?.orgsScanned ?? null,
    remaining: run?.remaining ?? null,
    pairsCheckedBySql: truth.pairs,
    mismatchesBySql: truth.mismatches,
    cacheLedgerDrift: truth.cacheLedgerDrift,
  });
  phase.expect((state.legacyColumn ? "present" : "absent") === legacyColumn, `organizations.usage should be ${legacyColumn}`);
  phase.expect(run?.remaining === 0, `the verify found ${run?.remaining} (org, metric) pairs that differ`);
  phase.expect(truth.mismatches === 0, `${truth.mismatches} (org, gauge) pairs differ: ${truth.examples.join("; ")}`);
  phase.expect(truth.cacheLedgerDrift === 0, `${truth.cacheLedgerDrift} (org, metric) cache rows differ from SUM(ledger)`);
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
