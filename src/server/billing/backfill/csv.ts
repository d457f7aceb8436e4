import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { bigintCell, type CsvCell, csvLine } from "../csv";
import type { Queryable } from "./measure";

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

type CsvRow = Record<(typeof CSV_COLUMNS)[number], string | boolean | null>;

/** The amount columns, read as `::text` (exact) and written as numbers: `-5` stays `-5`. */
const NUMERIC = new Set<string>(["legacy_value", "old_count", "cache_before", "ledger_before", "delta_applied"]);

const csvRecord = (row: CsvRow): CsvCell[] =>
  CSV_COLUMNS.map((c) => (NUMERIC.has(c) ? bigintCell(row[c] as string | null) : row[c]));

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
      const { rows } = await db.query<CsvRow>(
        `SELECT d.run_id::text, d.org_id::text, o.slug AS org_slug, d.metric, d.kind, d.legacy_wrong, d.cache_wrong,
                d.ledger_wrong, d.legacy_value::text, d.old_count::text, d.cache_before::text, d.ledger_before::text,
                d.delta_applied::text, d.cache_repaired
         FROM backfill_diffs d LEFT JOIN organizations o ON o.id = d.org_id
         WHERE d.run_id = $1::uuid AND (d.org_id, d.metric) > ($2::uuid, $3::text)
         ORDER BY d.org_id, d.metric LIMIT $4`,
        [runId, after[0], after[1], pageSize],
      );
      for (const row of rows) await write(csvLine(csvRecord(row)));
      count += rows.length;
      const last = rows.at(-1);
      if (!last || rows.length < pageSize) break;
      after = [last.org_id as string, last.metric as string];
    }
  } finally {
    out.end();
    if (!out.closed) await once(out, "close");
  }
  if (streamError !== undefined) throw streamError;
  return count;
}
