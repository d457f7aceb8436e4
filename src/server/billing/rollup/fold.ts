import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

/**
 * Folds the ledger rows of finished transactions into the rollups (usage_daily per org,
 * metric, UTC day and reason; usage_daily_totals per metric, day and reason across orgs;
 * usage_rollup_totals per org and metric) and moves
 * `through_tx_id` up. Exact because of what it folds: rows whose `tx_id` is below
 * pg_snapshot_xmin — every transaction below it has committed or aborted, so no row can
 * still appear in the folded range — and not yet folded (`tx_id >= through_tx_id`).
 *
 * Costs O(rows since the last fold), read through the BRIN index on tx_id. One fold at a
 * time (a transaction-scoped advisory lock; a second caller returns at once: readers are
 * exact without it, the tail is only a little longer). Safe to call from any read path.
 */

/** pg_advisory_xact_lock key: "usage_rollup_fold" as a fixed 64-bit number. */
const FOLD_LOCK = 7_420_336_817_512_401_983n;

export type FoldResult =
  { folded: true; rows: bigint; throughTxId: bigint } | { folded: false; why: "another_fold_running" | "nothing_finished" };

export async function foldLedger(db: Db): Promise<FoldResult> {
  const run = async (tx: Db): Promise<FoldResult> => {
    const [lock] = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${FOLD_LOCK}) AS locked`;
    if (!lock?.locked) return { folded: false, why: "another_fold_running" };
    const [state] = await tx.$queryRaw<{ through: bigint }[]>`
      SELECT through_tx_id AS through FROM usage_rollup_state WHERE id = 1 FOR UPDATE`;
    // Read after the row lock above gave this transaction an id, so the bound never passes it.
    const [bound] = await tx.$queryRaw<{ xmin: bigint }[]>`SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin`;
    const from = BigInt(state?.through ?? 0n);
    const to = BigInt(bound?.xmin ?? 0n);
    if (to <= from) return { folded: false, why: "nothing_finished" };
    // Before the first fold, the rows older than the tx_id column (NULL) are folded too.
    const range = from === 0n ? Prisma.sql`(tx_id IS NULL OR tx_id < ${to})` : Prisma.sql`tx_id >= ${from} AND tx_id < ${to}`;
    const [result] = await tx.$queryRaw<{ rows: bigint }[]>`
      WITH folded AS MATERIALIZED (
        SELECT org_id, metric, reason, delta, (timestamp AT TIME ZONE 'UTC')::date AS day
        FROM usage_ledger WHERE ${range}
      ), daily AS (
        INSERT INTO usage_daily (org_id, metric, day, reason, total, entries)
        SELECT org_id, metric, day, reason, SUM(delta), count(*) FROM folded
        GROUP BY org_id, metric, day, reason ORDER BY org_id, metric, day, reason
        ON CONFLICT (org_id, metric, day, reason)
        DO UPDATE SET total = usage_daily.total + EXCLUDED.total, entries = usage_daily.entries + EXCLUDED.entries
      ), daily_all_orgs AS (
        INSERT INTO usage_daily_totals (metric, day, reason, total, entries)
        SELECT metric, day, reason, SUM(delta), count(*) FROM folded
        GROUP BY metric, day, reason ORDER BY metric, day, reason
        ON CONFLICT (metric, day, reason)
        DO UPDATE SET total = usage_daily_totals.total + EXCLUDED.total, entries = usage_daily_totals.entries + EXCLUDED.entries
      ), totals AS (
        INSERT INTO usage_rollup_totals (org_id, metric, total, entries)
        SELECT org_id, metric, SUM(delta), count(*) FROM folded
        GROUP BY org_id, metric ORDER BY org_id, metric
        ON CONFLICT (org_id, metric)
        DO UPDATE SET total = usage_rollup_totals.total + EXCLUDED.total, entries = usage_rollup_totals.entries + EXCLUDED.entries
      )
      UPDATE usage_rollup_state
      SET through_tx_id = ${to}, folded_at = now(), rows_folded = rows_folded + (SELECT count(*) FROM folded)
      WHERE id = 1
      RETURNING (SELECT count(*) FROM folded) AS rows`;
    return { folded: true, rows: BigInt(result?.rows ?? 0n), throughTxId: to };
  };
  // A caller's transaction would hold the lock (and the fold) until it ends: fold on its own.
  return "$transaction" in db ? db.$transaction(run, { timeout: 600_000, maxWait: 30_000 }) : run(db);
}
