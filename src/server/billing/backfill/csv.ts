import { once } from "node:events";
import { createWriteStream } from "node:fs";

import { bigintCell, csvLine } from "../csv";
import type { Queryable } from "./measure";
import type { DiffRow } from "./types";

export const CSV_COLUMNS = [
  "run_id",
  "org_id",
  "org_slug",
  "metric",
  "kind",
  "legacy_wrong",
  "cache_wrong",
  "ledger_wrong",
  "legacy_value",
  "old_count",
  "cache_before",
  "ledger_before",
  "delta_applied",
  "cache_repaired",
] as const;

/** A diff-report row as CSV writes it: the row, and the organization's slug (null once it is deleted). */
export type DiffCsvRow = DiffRow & { orgSlug: string | null };

/**
 * One line of the diff report, in CSV_COLUMNS order: the one record of both copies of the
 * report (this file's `--csv` file and the dashboard's download, ./diff-export.ts). Amounts
 * stay bigints: the encoder leaves a negative number alone (it is not a formula).
 */
export function diffCsvLine(runId: string, d: DiffCsvRow): string {
  return csvLine([
    runId,
    d.orgId,
    d.orgSlug,
    d.metric,
    d.kind,
    d.legacyWrong,
    d.cacheWrong,
    d.ledgerWrong,
    d.legacyValue,
    d.oldCount,
    d.cacheBefore,
    d.ledgerBefore,
    d.deltaApplied,
    d.cacheRepaired,
  ]);
}

/** The amount columns are read as `::text` (exact in any driver setting) and turned back into bigints. */
interface DiffSqlRow {
  org_id: string;
  org_slug: string | null;
  metric: DiffRow["metric"];
  kind: DiffRow["kind"];
  legacy_wrong: boolean;
  cache_wrong: boolean;
  ledger_wrong: boolean;
  legacy_value: string | null;
  old_count: string;
  cache_before: string | null;
  ledger_before: string;
  delta_applied: string;
  cache_repaired: boolean;
}

const diffCsvRow = (r: DiffSqlRow): DiffCsvRow => ({
  orgId: r.org_id,
  orgSlug: r.org_slug,
  metric: r.metric,
  kind: r.kind,
  legacyWrong: r.legacy_wrong,
  cacheWrong: r.cache_wrong,
  ledgerWrong: r.ledger_wrong,
  legacyValue: bigintCell(r.legacy_value),
  oldCount: BigInt(r.old_count),
  cacheBefore: bigintCell(r.cache_before),
  ledgerBefore: BigInt(r.ledger_before),
  deltaApplied: BigInt(r.delta_applied),
  cacheRepaired: r.cache_repaired,
});

/**
 * Writes a run's diff report to `file` (header + one line per row, ordered by org and
 * metric), reading it in keyset pages so any size fits in memory. Returns the row count.
 * Encoded by the shared CSV encoder (../csv.ts): formula-safe text, numbers as numbers.
 */
export async function writeDiffCsv(db: Queryable, runId: string, file: string, pageSize = 5_000): Promise<number> {
  const out = createWriteStream(file, { encoding: "utf8" });
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await once(out, "drain");
  };
  let streamError: unknown;
  out.on("error", (error) => (streamError = error));
  let count = 0;
  try {
    await write(csvLine(CSV_COLUMNS));
    let after: [string, string] = ["00000000-0000-0000-0000-000000000000", ""];
    for (;;) {
      const { rows } = await db.query<DiffSqlRow>(
        `SELECT d.org_id::text, o.slug AS org_slug, d.metric, d.kind, d.legacy_wrong, d.cache_wrong,
                d.ledger_wrong, d.legacy_value::text, d.old_count::text, d.cache_before::text, d.ledger_before::text,
                d.delta_applied::text, d.cache_repaired
         FROM backfill_diffs d LEFT JOIN organizations o ON o.id = d.org_id
         WHERE d.run_id = $1::uuid AND (d.org_id, d.metric) > ($2::uuid, $3::text)
         ORDER BY d.org_id, d.metric LIMIT $4`,
        [runId, after[0], after[1], pageSize],
      );
      for (const row of rows) await write(diffCsvLine(runId, diffCsvRow(row)));
      count += rows.length;
      const last = rows.at(-1);
      if (!last || rows.length < pageSize) break;
      after = [last.org_id, last.metric];
    }
  } finally {
    out.end();
    if (!out.closed) await once(out, "close");
  }
  if (streamError !== undefined) throw streamError;
  return count;
}
