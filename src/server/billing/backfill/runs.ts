import type pg from "pg";

import { BackfillError } from "./apply";
import { diffColumns } from "./diff";
import type { Queryable } from "./measure";
import type { BackfillMode, DiffRow, RunStatus, RunTotals } from "./types";

/** The `backfill_runs` and `backfill_diffs` bookkeeping. */

export interface RunRecord {
  id: string;
  mode: BackfillMode;
  status: RunStatus;
  orgPrefix: string | null;
  cursor: string | null;
  orgsScanned: number;
  startedAt: Date;
}

interface RunRow {
  id: string;
  mode: BackfillMode;
  status: RunStatus;
  org_prefix: string | null;
  cursor: string | null;
  orgs_scanned: number;
  started_at: Date;
}

const toRecord = (r: RunRow): RunRecord => ({
  id: r.id,
  mode: r.mode,
  status: r.status,
  orgPrefix: r.org_prefix,
  cursor: r.cursor,
  orgsScanned: r.orgs_scanned,
  startedAt: r.started_at,
});

const RUN_COLUMNS = `id::text, mode, status, org_prefix, cursor::text, orgs_scanned, started_at`;

export async function createRun(
  db: Queryable,
  run: { mode: BackfillMode; orgPrefix: string | null; batchSize: number; concurrency: number; startedBy: string },
): Promise<RunRecord> {
  const { rows } = await db.query<RunRow>(
    `INSERT INTO backfill_runs (mode, org_prefix, batch_size, concurrency, started_by)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${RUN_COLUMNS}`,
    [run.mode, run.orgPrefix, run.batchSize, run.concurrency, run.startedBy],
  );
  return toRecord(rows[0] as RunRow);
}

/**
 * The run `--resume` continues: the newest run of this mode and org prefix, which must
 * have been interrupted (killed: still `running`; Ctrl-C: `cancelled`; an error: `failed`).
 */
export async function findResumable(db: Queryable, mode: BackfillMode, orgPrefix: string | null): Promise<RunRecord> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM backfill_runs
     WHERE mode = $1 AND org_prefix IS NOT DISTINCT FROM $2
     ORDER BY started_at DESC, id DESC LIMIT 1`,
    [mode, orgPrefix],
  );
  const scope = orgPrefix === null ? "" : ` with --org-prefix ${orgPrefix}`;
  const run = rows[0];
  if (!run) throw new BackfillError(`--resume: there is no ${mode} run${scope} to resume`);
  if (run.status === "completed") {
    throw new BackfillError(`--resume: the newest ${mode} run${scope} (${run.id}) completed; there is nothing to resume`);
  }
  return toRecord(run);
}

/**
 * A run by id, for `runBackfill({ runId })`: it must exist, be of this mode and org prefix,
 * and not be completed. Whether another process is executing it, `lockRun` tells.
 */
export async function findRun(db: Queryable, runId: string, mode: BackfillMode, orgPrefix: string | null): Promise<RunRecord> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM backfill_runs WHERE id = $1::uuid`, [runId]);
  const run = rows[0];
  if (!run) throw new BackfillError(`there is no run ${runId}`);
  if (run.mode !== mode || run.org_prefix !== orgPrefix) {
    throw new BackfillError(
      `run ${runId} is a ${run.mode} run of org prefix ${run.org_prefix ?? "(all)"}, not ${mode} of ${orgPrefix ?? "(all)"}`,
    );
  }
  if (run.status === "completed") throw new BackfillError(`run ${runId} completed; there is nothing to continue`);
  return toRecord(run);
}

/**
 * Held (on a dedicated connection) by the process executing a run, so `--resume` can tell
 * a killed run (status still `running`) from one that is alive in another process.
 */
export async function lockRun(client: pg.PoolClient, runId: string): Promise<void> {
  const { rows } = await client.query<{ locked: boolean }>(
    `SELECT pg_try_advisory_lock(hashtextextended('backfill_run:' || $1::text, 0)) AS locked`,
    [runId],
  );
  if (!rows[0]?.locked) throw new BackfillError(`run ${runId} is still being executed by another process`);
}

/**
 * A recorded run starts executing (under its lock): status `running`, its scope's total.
 * A `cancelling` status is kept: a stop requested while the run was starting (the
 * dashboard's "cancel" during the start grace, possibly on another server instance, which
 * cannot reach this process's abort signal); the runner then stops before its first batch.
 * Only `overrideCancelling` (a CLI `--resume` of a run that already said `cancelling` when
 * it was found: its executor died while stopping) replaces it. Returns the status now set.
 */
export async function markResumed(
  db: Queryable,
  runId: string,
  orgsTotal: number,
  options: { overrideCancelling?: boolean } = {},
): Promise<RunStatus> {
  const { rows } = await db.query<{ status: RunStatus }>(
    `UPDATE backfill_runs
     SET status = CASE WHEN status = 'cancelling' AND NOT $3 THEN status ELSE 'running' END,
         error = NULL, finished_at = NULL, remaining = NULL, orgs_total = $2, updated_at = now()
     WHERE id = $1::uuid RETURNING status`,
    [runId, orgsTotal, options.overrideCancelling ?? false],
  );
  const status = rows[0]?.status;
  if (!status) throw new BackfillError(`run ${runId} disappeared`);
  return status;
}

/** A new run's scope total. Returns its status (`cancelling` when a stop was already requested). */
export async function setTotal(db: Queryable, runId: string, orgsTotal: number): Promise<RunStatus> {
  const { rows } = await db.query<{ status: RunStatus }>(
    `UPDATE backfill_runs SET orgs_total = $2, updated_at = now() WHERE id = $1::uuid RETURNING status`,
    [runId, orgsTotal],
  );
  const status = rows[0]?.status;
  if (!status) throw new BackfillError(`run ${runId} disappeared`);
  return status;
}

/**
 * After a whole batch: the cursor moves past it and its totals are added. Returns true when
 * a stop was requested meanwhile (`requestCancel`, status `cancelling`).
 */
export async function advanceRun(db: Queryable, runId: string, cursor: string, batch: RunTotals): Promise<boolean> {
  const { rows } = await db.query<{ status: RunStatus }>(
    `UPDATE backfill_runs SET cursor = $2::uuid, orgs_scanned = orgs_scanned + $3,
       mismatches = mismatches + $4, legacy_mismatches = legacy_mismatches + $5,
       deltas_applied = deltas_applied + $6, cache_repairs = cache_repairs + $7, updated_at = now()
     WHERE id = $1::uuid RETURNING status`,
    [runId, cursor, batch.orgsScanned, batch.mismatches, batch.legacyMismatches, batch.deltasApplied, batch.cacheRepairs],
  );
  return rows[0]?.status === "cancelling";
}

/**
 * Asks a running run to stop after its current batch, from any process (the dashboard's
 * "cancel"). Returns false when the run is not running.
 */
export async function requestCancel(db: Queryable, runId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE backfill_runs SET status = 'cancelling', updated_at = now() WHERE id = $1::uuid AND status = 'running'`,
    [runId],
  );
  return rowCount === 1;
}

/**
 * Whether some process is executing the run right now (it holds the run's advisory lock).
 * A run whose status says `running` but that nobody executes was killed: `--resume` it.
 */
export async function runIsExecuting(pool: pg.Pool, runId: string): Promise<boolean> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(hashtextextended('backfill_run:' || $1::text, 0)) AS locked`,
      [runId],
    );
    if (!rows[0]?.locked) return true;
    await client.query(`SELECT pg_advisory_unlock(hashtextextended('backfill_run:' || $1::text, 0))`, [runId]);
    return false;
  } finally {
    client.release();
  }
}

export interface FinishedRun extends RunTotals {
  status: RunStatus;
  cursor: string | null;
  /** Mismatches left (verify: its whole report; apply: its closing verification); null: not measured. */
  remaining: number | null;
  orgsTotal: number;
}

/**
 * Ends a run. The diff totals are recounted from the report itself, which is written in the
 * same transactions as the changes: exact even when an earlier process of this run was
 * killed between an org's commit and its batch's bookkeeping.
 */
export async function finishRun(
  db: Queryable,
  runId: string,
  status: RunStatus,
  extra: { error?: string; remaining?: number; remainingFromReport?: boolean } = {},
): Promise<FinishedRun> {
  const { rows } = await db.query<{
    status: RunStatus;
    cursor: string | null;
    remaining: number | null;
    orgs_total: number;
    orgs_scanned: number;
    mismatches: number;
    legacy_mismatches: number;
    deltas_applied: number;
    cache_repairs: number;
  }>(
    `UPDATE backfill_runs r SET status = $2, error = $3, remaining = CASE WHEN $5 THEN d.mismatches ELSE $4 END, finished_at = now(), updated_at = now(),
       mismatches = d.mismatches, legacy_mismatches = d.legacy, deltas_applied = d.deltas, cache_repairs = d.repairs
     FROM (SELECT count(*) FILTER (WHERE cache_wrong OR ledger_wrong)::int AS mismatches,
                  count(*) FILTER (WHERE legacy_wrong)::int AS legacy,
                  count(*) FILTER (WHERE delta_applied <> 0)::int AS deltas,
                  count(*) FILTER (WHERE cache_repaired)::int AS repairs
           FROM backfill_diffs WHERE run_id = $1::uuid) d
     WHERE r.id = $1::uuid
     RETURNING r.status, r.cursor::text, r.remaining, r.orgs_total, r.orgs_scanned, r.mismatches, r.legacy_mismatches,
               r.deltas_applied, r.cache_repairs`,
    [runId, status, extra.error ?? null, extra.remaining ?? null, extra.remainingFromReport ?? false],
  );
  const r = rows[0];
  if (!r) throw new BackfillError(`run ${runId} disappeared`);
  return {
    status: r.status,
    cursor: r.cursor,
    remaining: r.remaining,
    orgsTotal: r.orgs_total,
    orgsScanned: r.orgs_scanned,
    mismatches: r.mismatches,
    legacyMismatches: r.legacy_mismatches,
    deltasApplied: r.deltas_applied,
    cacheRepairs: r.cache_repairs,
  };
}

/**
 * Report rows measured outside a lock (dry run, verify, an apply's legacy-only rows). A row
 * already there (a resumed run re-reading its last, unfinished batch) is kept: it may be
 * the one an apply wrote under its lock, with the delta it applied.
 */
export async function insertDiffs(db: Queryable, runId: string, rows: readonly DiffRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO backfill_diffs (run_id, org_id, metric, kind, legacy_wrong, cache_wrong, ledger_wrong, legacy_value,
                                 old_count, cache_before, ledger_before, delta_applied, cache_repaired)
     SELECT $1::uuid, d.* FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bool[], $6::bool[], $7::bool[], $8::bigint[],
                                     $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bool[])
       AS d(org_id, metric, kind, legacy_wrong, cache_wrong, ledger_wrong, legacy_value, old_count, cache_before,
            ledger_before, delta_applied, cache_repaired)
     ON CONFLICT (run_id, org_id, metric) DO NOTHING`,
    [runId, ...diffColumns(rows)],
  );
}
