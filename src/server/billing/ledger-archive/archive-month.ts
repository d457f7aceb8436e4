import path from "node:path";

import type pg from "pg";

import type { PrismaClient } from "@/server/db/client";

import { BillingError } from "../errors";
import { foldLedger } from "../rollup/fold";
import { ledgerMonth, tooRecent, windowStillReads, type LedgerMonth } from "./archivable";
import { copyPartitionToFile } from "./archive-file";

/**
 * `npm run archive-ledger`: one UTC month of the ledger out of the hot table, every invariant
 * kept (ARCHITECTURE.md, "Growth past 100 million ledger rows").
 *
 * 1. Refuse a month that is not over long enough (archivable.ts), then fold, and refuse a
 *    month with a row the rollups do not hold yet (`tx_id` at or above the fold's bound).
 * 2. COPY the partition to `out` (whole or absent: written beside it, flushed, renamed).
 * 3. ONE transaction, holding the ledger's ACCESS EXCLUSIVE lock (writers wait for it, for one
 *    scan of the month): the month still has the rows the file has (same count: the ledger is
 *    append-only, so the same rows) and all of them folded; its per-(org, metric, reason) sums
 *    go to usage_archived_months, the file to usage_ledger_archives, and the partition is
 *    detached and dropped.
 * A crash before 3 commits leaves the ledger as it was (at most a file, rewritten by the next
 * run): run the command again. After it, the month is archived: a second run says so. The
 * keys stay in usage_idempotency_keys (a replay still writes nothing); cache == rollups + tail
 * is untouched (the rollups hold the archived rows); SUM(ledger) + usage_archived_months is
 * what verify and the backfill compare with the cache.
 */

export interface ArchiveOptions {
  /** `YYYY-MM`. */
  month: string;
  /** The archive file to write. */
  out: string;
  /** Check and report, write nothing (no fold either). */
  dryRun?: boolean;
  now: Date;
  /** How long step 3 waits for the ledger's lock before giving up (nothing changed). */
  lockTimeoutMs?: number;
  /** Runs between the file and the transaction (tests: a row written and folded in that gap). */
  afterExport?: () => Promise<void>;
}

export type ArchiveReport =
  | { status: "archived"; month: string; rows: bigint; file: string; sha256: string; pairs: number }
  | { status: "already_archived"; month: string; rows: bigint; file: string; sha256: string }
  | { status: "dry_run"; month: string; rows: bigint; unfolded: bigint; pairs: number };

export async function archiveLedgerMonth(
  database: { prisma: PrismaClient; pool: pg.Pool },
  options: ArchiveOptions,
): Promise<ArchiveReport> {
  const month = ledgerMonth(options.month);
  const recent = tooRecent(month, options.now);
  if (recent) throw recent;
  const client = await database.pool.connect();
  // A COPY that failed half-way leaves the connection mid-protocol: closed, not pooled.
  let broken: Error | undefined;
  try {
    const done = await archivedAlready(client, month);
    if (done) return done;
    const windowRefusal = await windowStillReads(client, month);
    if (windowRefusal) throw windowRefusal;
    if (options.dryRun) return await dryRun(client, month);

    await foldOnce(database.prisma);
    await refuseUnfolded(client, month);
    // Rows of the month written while it had no partition are in DEFAULT: give them one.
    await client.query(`SELECT usage_ledger_create_month($1::date)`, [month.date]);

    const out = path.resolve(options.out);
    const file = await copyPartitionToFile(client, month.partition, out).catch((error: unknown) => {
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    });
    await options.afterExport?.();

    await client.query("BEGIN");
    try {
      await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs ?? 5_000))}`);
      await client.query("LOCK TABLE usage_ledger IN ACCESS EXCLUSIVE MODE");
      // Another run archived it meanwhile (its partition is gone): say so.
      const archivedMeanwhile = await archivedAlready(client, month);
      if (archivedMeanwhile) {
        await client.query("ROLLBACK");
        return archivedMeanwhile;
      }
      const table = partitionTable(client, month);
      // A row committed after the COPY may have been folded since (the server folds on its
      // own): the fold check below would pass it, the count does not.
      const { rows: counted } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
      if (BigInt(counted[0]?.n ?? 0) !== file.rows) {
        throw new BillingError(
          "CONFLICT",
          "archive_raced",
          `rows were written into ${month.label} while it was exported (${counted[0]?.n} now, ${file.rows} in the file): run the command again`,
        );
      }
      await refuseUnfolded(client, month);
      const totals = await client.query(
        `INSERT INTO usage_archived_months (org_id, metric, month, reason, total, entries)
         SELECT org_id, metric, $1::date, reason, SUM(delta), count(*) FROM ${table} GROUP BY org_id, metric, reason`,
        [month.date],
      );
      await client.query(`INSERT INTO usage_ledger_archives (month, rows, file, file_sha256) VALUES ($1::date, $2, $3, $4)`, [
        month.date,
        file.rows.toString(),
        out,
        file.sha256,
      ]);
      await client.query(`ALTER TABLE usage_ledger DETACH PARTITION ${table}`);
      await client.query(`DROP TABLE ${table}`);
      await client.query("COMMIT");
      return { status: "archived", month: month.label, rows: file.rows, file: out, sha256: file.sha256, pairs: totals.rowCount ?? 0 };
    } catch (error) {
      await client.query("ROLLBACK");
      throw error;
    }
  } finally {
    client.release(broken);
  }
}

/** A fold of our own, waiting for one already running (it may have started before our rows' transactions ended). */
async function foldOnce(prisma: PrismaClient): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const result = await foldLedger(prisma);
    if (result.folded || result.why === "nothing_finished") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function partitionTable(client: pg.ClientBase, month: LedgerMonth): string {
  return `ledger_partitions.${client.escapeIdentifier(month.partition)}`;
}

async function archivedAlready(client: pg.ClientBase, month: LedgerMonth): Promise<ArchiveReport | undefined> {
  const { rows } = await client.query<{ rows: string; file: string; file_sha256: string }>(
    `SELECT rows::text, file, file_sha256 FROM usage_ledger_archives WHERE month = $1::date`,
    [month.date],
  );
  const row = rows[0];
  return row && { status: "already_archived", month: month.label, rows: BigInt(row.rows), file: row.file, sha256: row.file_sha256 };
}

/** The month's rows (in its partition, or in DEFAULT before it has one) the rollups do not hold yet. */
const UNFOLDED_SQL = `(tx_id >= (SELECT through_tx_id FROM usage_rollup_state WHERE id = 1)
   OR (tx_id IS NULL AND (SELECT through_tx_id FROM usage_rollup_state WHERE id = 1) = 0))`;

async function refuseUnfolded(client: pg.ClientBase, month: LedgerMonth): Promise<void> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM usage_ledger WHERE "timestamp" >= $1 AND "timestamp" < $2 AND ${UNFOLDED_SQL}`,
    [month.start, month.end],
  );
  const unfolded = BigInt(rows[0]?.n ?? 0);
  if (unfolded === 0n) return;
  throw new BillingError(
    "PRECONDITION_FAILED",
    "month_not_folded",
    `${month.label} has ${unfolded} ledger rows the rollups do not hold yet (a transaction older than them is still open): run the command again once it has ended`,
  );
}

async function dryRun(client: pg.ClientBase, month: LedgerMonth): Promise<ArchiveReport> {
  const { rows } = await client.query<{ rows: string; unfolded: string; pairs: string }>(
    `SELECT count(*)::text AS rows, count(*) FILTER (WHERE ${UNFOLDED_SQL})::text AS unfolded,
            count(DISTINCT (org_id, metric, reason))::text AS pairs
     FROM usage_ledger WHERE "timestamp" >= $1 AND "timestamp" < $2`,
    [month.start, month.end],
  );
  const row = rows[0];
  return {
    status: "dry_run",
    month: month.label,
    rows: BigInt(row?.rows ?? 0),
    unfolded: BigInt(row?.unfolded ?? 0),
    pairs: Number(row?.pairs ?? 0),
  };
}
