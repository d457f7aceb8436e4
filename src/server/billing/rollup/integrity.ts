import type { Db } from "@/server/db/tx";

import { ledgerTailCtes } from "./ledger-tail";

/**
 * Invariant 1 for the whole database, incrementally: every (org, metric) must have
 * `usage_cache.count` = SUM(usage_ledger.delta), read as the folded totals plus the ledger's
 * tail in one statement (one snapshot). Costs O(pairs + rows since the last fold), not a pass
 * over the ledger. `npm run backfill -- --verify` keeps the full rescan, which also proves
 * the rollups themselves (test/integration/ledger-rollups.test.ts holds them to a rescan).
 */

export interface IntegrityCheck {
  /** (org, metric) pairs that have a cache row or ledger rows. */
  pairsChecked: number;
  /** Pairs where `usage_cache.count` differs from `SUM(usage_ledger.delta)` (invariant 1). */
  mismatches: number;
  /** Ledger rows read beside the rollups (written since the last fold). */
  tailRows: number;
}

export async function checkUsageIntegrity(db: Db): Promise<IntegrityCheck> {
  const tail = await ledgerTailCtes(db, "org_id, metric, delta");
  const [row] = await db.$queryRaw<{ pairs: bigint; mismatches: bigint; tail_rows: bigint }[]>`
    WITH ${tail},
    tail_sums AS (
      SELECT org_id, metric, SUM(delta) AS total FROM ledger_tail GROUP BY org_id, metric
    ), ledger AS (
      SELECT COALESCE(r.org_id, t.org_id) AS org_id, COALESCE(r.metric, t.metric) AS metric,
             COALESCE(r.total, 0) + COALESCE(t.total, 0) AS total
      FROM usage_rollup_totals r FULL OUTER JOIN tail_sums t ON t.org_id = r.org_id AND t.metric = r.metric
    )
    SELECT count(*) AS "pairs",
           count(*) FILTER (WHERE COALESCE(c.count, 0) <> COALESCE(l.total, 0)) AS "mismatches",
           (SELECT count(*) FROM ledger_tail) AS "tail_rows"
    FROM usage_cache c
    FULL OUTER JOIN ledger l ON l.org_id = c.org_id AND l.metric = c.metric`;
  return { pairsChecked: Number(row?.pairs ?? 0), mismatches: Number(row?.mismatches ?? 0), tailRows: Number(row?.tail_rows ?? 0) };
}
