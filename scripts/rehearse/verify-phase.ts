import type pg from "pg";

import type { BackfillStep } from "./backfill-cli";
import type { PhaseContext } from "./phases";
import { agreement, schemaState } from "./truth";

/** The verify, run twice (with the legacy column, then without): the CLI's `--verify`, and the rehearsal's own SQL. */

/** `--verify` finds nothing left, and by SQL: cache == SUM(ledger) == the old count for every pair. */
export async function verifyPhase(
  phase: PhaseContext,
  backfill: BackfillStep,
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
