import type { PrismaClient } from "@/server/db/client";
import { LEDGER_MONTHS_AHEAD } from "@/server/db/ledger-months";

/**
 * The ledger's partitions of `now`'s UTC month and the next LEDGER_MONTHS_AHEAD, created where
 * missing (usage_ledger_ensure_months, migration 20261124000888): what every migrate does,
 * run again by a long-lived server so a server that is never restarted still has next month's
 * partition before the month begins (without it the month's rows wait in the DEFAULT
 * partition, correct but unarchivable until a migrate moves them).
 *
 * Creating a partition takes the ledger's exclusive lock, so it waits at most `lockTimeoutMs`
 * for it (a long transaction holding the ledger) and gives up, changing nothing: queued
 * behind that transaction it would hold up every writer that arrives after it. Once it has
 * the lock, writers wait while it checks the DEFAULT partition for rows of the new month (and
 * moves them, if any): short while DEFAULT stays empty, as it does when months are created
 * ahead. When every month exists it takes no table lock at all. Returns how many it created.
 */
export async function ensureLedgerMonthsAhead(db: PrismaClient, now: Date, lockTimeoutMs = 2_000): Promise<number> {
  const timeout = Math.max(1, Math.floor(lockTimeoutMs));
  const [, rows] = await db.$transaction([
    db.$executeRawUnsafe(`SET LOCAL lock_timeout = ${timeout}`),
    db.$queryRaw<{ created: number }[]>`SELECT usage_ledger_ensure_months(${now}::timestamptz, ${LEDGER_MONTHS_AHEAD}::int) AS created`,
  ]);
  return rows[0]?.created ?? 0;
}
