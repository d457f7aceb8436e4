import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

/**
 * The ledger rows the rollups do not hold yet: every row whose transaction id is at or above
 * `usage_rollup_state.through_tx_id`, plus, before the first fold, the rows older than the
 * `tx_id` column (NULL). As CTEs for a statement that also reads the rollups: one statement
 * is one snapshot, so "rollup + tail" is exact as of it, whatever a fold commits meanwhile.
 *
 * The tail is MATERIALIZED on purpose: the planner must find it through the BRIN index on
 * tx_id (a few recent block ranges), never through an org's (org_id, timestamp) index, which
 * for a big org would walk millions of rows. Callers filter the CTE, not the table.
 *
 * The bound read beforehand (`foldedThrough`) is for the planner only: `tx_id >= (SELECT
 * through …)` is a comparison with an unknown value, estimated at a third of the ledger
 * (3 million rows at 10 million), which made every rollup read plan for millions of rows and
 * spend more time compiling them (JIT) than running. Beside it, `tx_id >= <the bound a moment
 * ago>` is estimated from the column's statistics: a few rows. It changes no answer: the bound
 * only moves up (a fold sets it to a later xmin), so the statement's own bound is at least
 * the one read before it, and the rows the two conditions select are the rows the first does.
 *
 * Defines `rollup_state(through)` and `ledger_tail(<columns>)`.
 */
export async function ledgerTailCtes(db: Db, columns: string): Promise<Prisma.Sql> {
  const foldedThrough = await readFoldedThrough(db);
  const cols = Prisma.raw(columns);
  return Prisma.sql`rollup_state AS (
      SELECT through_tx_id AS through FROM usage_rollup_state WHERE id = 1
    ), ledger_tail AS MATERIALIZED (
      SELECT ${cols} FROM usage_ledger WHERE tx_id >= (SELECT through FROM rollup_state) AND tx_id >= ${foldedThrough}::bigint
      UNION ALL
      SELECT ${cols} FROM usage_ledger WHERE tx_id IS NULL AND (SELECT through FROM rollup_state) = 0
    )`;
}

/** `usage_rollup_state.through_tx_id` as committed now (0 before the first fold). */
async function readFoldedThrough(db: Db): Promise<bigint> {
  const [state] = await db.$queryRaw<{ through: bigint }[]>`SELECT through_tx_id AS through FROM usage_rollup_state WHERE id = 1`;
  return BigInt(state?.through ?? 0n);
}
