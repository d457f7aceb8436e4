import type pg from "pg";

import { migrate, MigrationError } from "@/server/db/migrator";

import { CLEANUP_MIGRATION, CLEANUP_REFUSAL } from "../../tools";
import type { PhaseContext } from "./phases";
import { schemaState } from "./truth";

/**
 * Step 6, the cleanup migration (drops organizations.usage): applied after a verify that
 * passed; after a failed one its own guard must refuse it (rolled back, nothing recorded,
 * organizations.usage kept), and the phase reports the refusal as a failure.
 */

export function cleanupTitle(verified: boolean): string {
  return verified
    ? `Step 6: migrate (applies ${CLEANUP_MIGRATION})`
    : `Step 6: migrate (the verify failed: ${CLEANUP_MIGRATION} must refuse to run)`;
}

/** Runs the migration; `phase.counts.refused` says whether its guard refused it. */
export async function cleanupMigration(phase: PhaseContext, databaseUrl: string, pool: pg.Pool, verified: boolean): Promise<void> {
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
}
