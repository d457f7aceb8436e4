import type { Db } from "@/server/db/tx";

import { csvLine } from "../csv";
import { CSV_COLUMNS, diffCsvLine } from "./csv";
import { getRun, listDiffs } from "./dashboard";
import type { DiffCursor, DiffFilter } from "./dashboard-schemas";

/** Rows per keyset page of the download: memory stays flat for any report size. */
const EXPORT_PAGE = 500;

/**
 * A run's diff report, filtered like the page, as CSV: the columns and quoting of
 * `npm run backfill -- --csv` (./csv.ts), in (org id, metric) order. Rows are read in keyset
 * pages as the consumer pulls, so a slow download holds no connection between pages.
 * Throws NOT_FOUND (BillingError) before any byte when the run does not exist.
 */
export async function diffCsvStream(db: Db, runId: string, filter: DiffFilter): Promise<ReadableStream<Uint8Array>> {
  const run = await getRun(db, runId);
  const encoder = new TextEncoder();
  let cursor: DiffCursor | undefined;
  let headerSent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!headerSent) {
          controller.enqueue(encoder.encode(csvLine(CSV_COLUMNS)));
          headerSent = true;
        }
        const page = await listDiffs(db, run.id, { filter, cursor, limit: EXPORT_PAGE });
        if (page.items.length) controller.enqueue(encoder.encode(page.items.map((d) => diffCsvLine(run.id, d)).join("")));
        if (!page.nextCursor) controller.close();
        else cursor = page.nextCursor;
      } catch (error) {
        controller.error(error);
      }
    },
  });
}
