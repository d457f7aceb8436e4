import type pg from "pg";

import { migrate } from "@/server/db/migrator";
import { seedDatabase } from "@/server/seed";

import { CLEANUP_MIGRATION, HOST_TABLES_MIGRATION, migrationBefore } from "../../tools";
import type { BackfillStep } from "./backfill-cli";
import type { PhaseContext } from "./phases";
import { hostTotals, legacyDriftPairs, schemaState } from "./truth";

/**
 * The rehearsal's steps before the apply: the old app's database (host tables, legacy data),
 * Phase A's billing tables beside it, and the dry run's diff report.
 */

/** Step 1: the host tables only, as the old app had them before billing. */
export async function migrateHostTables(phase: PhaseContext, databaseUrl: string, pool: pg.Pool): Promise<void> {
  const result = await migrate(databaseUrl, { to: HOST_TABLES_MIGRATION });
  const state = await schemaState(pool);
  phase.counts.migrationsApplied = result.applied.length;
  phase.counts.pending = result.pending.length;
  phase.expect(!state.billingTables && state.legacyColumn, "expected the host tables with organizations.usage and no billing tables");
}

/** Step 2: members, teams and files counted by nobody; the usage JSONB drifted for some orgs. */
export async function seedLegacy(phase: PhaseContext, pool: pg.Pool, options: { orgs: number; seed: number }): Promise<void> {
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
}

/** Step 3, Phase A: every billing migration but the cleanup, the ledger still empty. */
export async function migrateBillingTables(phase: PhaseContext, databaseUrl: string, pool: pg.Pool): Promise<void> {
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
}

/** Step 4: `--dry-run` reports every difference and writes nothing. */
export async function dryRun(phase: PhaseContext, pool: pg.Pool, backfill: BackfillStep): Promise<void> {
  const totals = await hostTotals(pool);
  const drift = await legacyDriftPairs(pool);
  const run = await backfill(["--dry-run"]);
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
}
