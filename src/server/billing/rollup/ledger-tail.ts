import { Prisma } from "@/server/db/client";

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
 * Defines `rollup_state(through)` and `ledger_tail(<columns>)`.
 */
export function ledgerTailCtes(columns: string): Prisma.Sql {
  const cols = Prisma.raw(columns);
  return Prisma.sql`rollup_state AS (
      SELECT through_tx_id AS through FROM usage_rollup_state WHERE id = 1
    ), ledger_tail AS MATERIALIZED (
      SELECT ${cols} FROM usage_ledger WHERE tx_id >= (SELECT through FROM rollup_state)
      UNION ALL
      SELECT ${cols} FROM usage_ledger WHERE tx_id IS NULL AND (SELECT through FROM rollup_state) = 0
    )`;
}
