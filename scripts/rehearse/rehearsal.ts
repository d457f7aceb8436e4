import { createBillingServices } from "@/server/billing";
import { createDatabase } from "@/server/db/client";

import { checkRehearsalMigrations, HOST_TABLES_MIGRATION } from "../../tools";
import { applyUnderTraffic } from "./apply-phase";
import { runBackfillCliChecked } from "./backfill-cli";
import { cleanupMigration, cleanupTitle } from "./cleanup-phase";
import { runEnforcementChecks } from "./enforcement";
import { RehearsalError } from "./errors";
import { PhaseRecorder, type PhaseContext, type PhaseReport } from "./phases";
import { dryRun, migrateBillingTables, migrateHostTables, seedLegacy } from "./preparation-phases";
import { agreement, schemaState } from "./truth";
import { verifyPhase } from "./verify-phase";
import type { WorkloadCounts } from "./workload";

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
 *
 * This file is the runbook's order; each phase's work and checks are in preparation-phases.ts
 * (1–4), apply-phase.ts (5), verify-phase.ts (6, 9) and cleanup-phase.ts (8); Phase C's checks
 * in enforcement.ts.
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
  const backfill = (phase: PhaseContext) => (args: string[]) => runBackfillCliChecked(phase, databaseUrl, pool, args);

  try {
    const fresh = await schemaState(pool);
    if (fresh.tables > 0) throw new RehearsalError(`the database is not empty (${fresh.tables} tables): a rehearsal needs a fresh one`);

    await recorder.run("migrate_host_tables", `migrate --to ${HOST_TABLES_MIGRATION} (the old app, before billing)`, (phase) =>
      migrateHostTables(phase, databaseUrl, pool),
    );
    await recorder.run("seed_legacy", "seed legacy data (no ledger, no cache; the usage JSONB drifted for some orgs)", (phase) =>
      seedLegacy(phase, pool, options),
    );
    await recorder.run("phase_a_migrate", "Phase A: migrate the billing tables (all but the cleanup)", (phase) =>
      migrateBillingTables(phase, databaseUrl, pool),
    );
    await recorder.run("dry_run", "npm run backfill -- --dry-run (the diff report, nothing written)", (phase) =>
      dryRun(phase, pool, backfill(phase)),
    );
    await recorder.run(
      "phase_b_apply_under_traffic",
      `Phase B: npm run backfill -- --apply under live traffic (${options.trafficProcesses} processes × ${options.trafficLoops} transactions, ${options.trafficSeconds} s)`,
      async (phase) => {
        traffic = await applyUnderTraffic(phase, databaseUrl, pool, backfill(phase), options);
      },
    );
    await recorder.run("verify", "npm run backfill -- --verify, and cache == SUM(ledger) == old count by SQL", (phase) =>
      verifyPhase(phase, backfill(phase), pool, "present"),
    );

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
    const cleanup = await recorder.run("cleanup_migration", cleanupTitle(verified), (phase) =>
      cleanupMigration(phase, databaseUrl, pool, verified),
    );

    const verifyAgainTitle = "npm run backfill -- --verify again, without the legacy column";
    if (cleanup.counts.refused === true) {
      recorder.skip("verify_after_cleanup", verifyAgainTitle, "the cleanup migration was refused");
    } else {
      await recorder.run("verify_after_cleanup", verifyAgainTitle, (phase) => verifyPhase(phase, backfill(phase), pool, "absent"));
    }
  } finally {
    await handle.close();
  }
  const phases = recorder.phases;
  return { ok: phases.length === PHASES && phases.every((p) => p.ok), totalMs: performance.now() - started, phases, traffic };
}
