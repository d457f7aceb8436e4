import type { PrismaClient } from "@/server/db/client";

/** One archived UTC month, as the Ledger page lists it. */
export interface LedgerArchiveSummary {
  /** `YYYY-MM`, UTC. */
  month: string;
  rows: bigint;
  /** Where `npm run archive-ledger` wrote the month's rows (a path on the machine that ran it). */
  file: string;
  fileSha256: string;
  archivedAt: Date;
}

/** More than a century of months: the list is never paged. */
const MAX_LISTED = 1_200;

/**
 * The months moved out of the ledger, newest first. Their rows are no longer in the ledger's
 * pages or its CSV export (they are in the files); the totals and charts still count them
 * (the rollups hold them; not the totals that read live rows: an actor filter, a time
 * filter's part-day edges) and so do verify and the backfill (usage_archived_months).
 */
export async function listLedgerArchives(db: PrismaClient): Promise<LedgerArchiveSummary[]> {
  const rows = await db.usageLedgerArchive.findMany({ orderBy: { month: "desc" }, take: MAX_LISTED });
  return rows.map((r) => ({
    month: r.month.toISOString().slice(0, 7),
    rows: r.rows,
    file: r.file,
    fileSha256: r.fileSha256,
    archivedAt: r.archivedAt,
  }));
}
