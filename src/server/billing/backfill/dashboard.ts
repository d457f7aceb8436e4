import { Prisma, type PrismaClient } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { BillingError, parseInput } from "../errors";
import { keysetPage, keysetTake, pageLimit, type KeysetPage } from "../keyset-page";
import { UUID_PATTERN } from "../uuid";
import { backgroundBackfills, type BackfillLauncher, type LocalProgress } from "./background";
import {
  diffCursorSchema,
  diffFilterSchema,
  PAGE_MAX,
  runCursorSchema,
  runIdSchema,
  type DiffCursor,
  type DiffFilter,
  type RunCursor,
} from "./dashboard-schemas";
import { isLive, livenessOf, stateOf, type RunState } from "./liveness";
import type { BackfillMetric, BackfillMode, DiffKind, DiffRow, RunStatus } from "./types";

/** A `backfill_runs` row as Prisma returns it. */
type BackfillRun = NonNullable<Awaited<ReturnType<PrismaClient["backfillRun"]["findUnique"]>>>;

/**
 * The dashboard's reads of backfill runs and their diff reports. Knows nothing of tRPC or
 * Next: callers pass the Prisma client and get plain objects (64-bit amounts as BigInt).
 */

export interface RunProgress {
  /** Organizations scanned of the scope, 0–100 with one decimal (100 once completed). */
  percent: number;
  /** Organizations left to scan. */
  orgsLeft: number;
  /**
   * Organizations per second: measured by this process for a run it executes (since its
   * latest start or resume); else the average since the run began, up to its last batch.
   */
  ratePerSecond: number | null;
  /** Seconds to the end of the scan at that rate, while the run is alive. */
  etaSeconds: number | null;
  /** From the start to the end (or to now, while it has not ended). */
  elapsedSeconds: number;
  /** `verifying`: an apply has scanned everything and is checking the scope again. */
  phase: "scanning" | "verifying" | "ended";
}

export interface RunView {
  id: string;
  mode: BackfillMode;
  status: RunStatus;
  /** What staff should read: the status, or `interrupted` for a run nobody executes any more. */
  state: RunState;
  orgPrefix: string | null;
  batchSize: number;
  concurrency: number;
  cursor: string | null;
  orgsTotal: number;
  orgsScanned: number;
  mismatches: number;
  legacyMismatches: number;
  deltasApplied: number;
  cacheRepairs: number;
  remaining: number | null;
  error: string | null;
  startedBy: string;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  progress: RunProgress;
  canCancel: boolean;
  canResume: boolean;
}

export type RunPage = KeysetPage<RunView, RunCursor>;

/** One diff report row, with the organization it is about. */
export interface DiffItem extends DiffRow {
  /** null once the organization was deleted (the report outlives it). */
  orgSlug: string | null;
  orgName: string | null;
}

export type DiffPage = KeysetPage<DiffItem, DiffCursor>;

const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);

function progressOf(run: BackfillRun, state: RunState, local: LocalProgress | null, now: Date): RunProgress {
  const live = isLive(state);
  const orgsLeft = Math.max(0, run.orgsTotal - run.orgsScanned);
  const percent =
    run.status === "completed" ? 100 : run.orgsTotal > 0 ? Math.min(100, Math.floor((run.orgsScanned * 1000) / run.orgsTotal) / 10) : 0;
  let ratePerSecond: number | null = null;
  if (local && local.lastAtMs > local.startedAtMs) {
    ratePerSecond = (local.lastDone - local.orgsAtStart) / ((local.lastAtMs - local.startedAtMs) / 1000);
  } else {
    const span = seconds(run.startedAt, run.finishedAt ?? run.updatedAt);
    if (span > 0 && run.orgsScanned > 0) ratePerSecond = run.orgsScanned / span;
  }
  return {
    percent,
    orgsLeft,
    ratePerSecond,
    etaSeconds: live && ratePerSecond !== null && ratePerSecond > 0 ? Math.ceil(orgsLeft / ratePerSecond) : null,
    elapsedSeconds: Math.round(seconds(run.startedAt, run.finishedAt ?? now)),
    phase: !live ? "ended" : run.mode === "apply" && run.orgsTotal > 0 && orgsLeft === 0 ? "verifying" : "scanning",
  };
}

/** Runs as staff read them: liveness looked up for the ones that say they are running. */
export async function viewRuns(
  db: Db,
  runs: readonly BackfillRun[],
  launcher: BackfillLauncher = backgroundBackfills(),
): Promise<RunView[]> {
  const open = runs.filter((r) => r.status === "running" || r.status === "cancelling").map((r) => r.id);
  const liveness = await livenessOf(db, open);
  const now = new Date();
  return runs.map((run) => {
    const status = run.status as RunStatus;
    const state = stateOf(status, liveness.get(run.id), launcher.isRunningHere(run.id));
    return {
      id: run.id,
      mode: run.mode as BackfillMode,
      status,
      state,
      orgPrefix: run.orgPrefix,
      batchSize: run.batchSize,
      concurrency: run.concurrency,
      cursor: run.cursor,
      orgsTotal: run.orgsTotal,
      orgsScanned: run.orgsScanned,
      mismatches: run.mismatches,
      legacyMismatches: run.legacyMismatches,
      deltasApplied: run.deltasApplied,
      cacheRepairs: run.cacheRepairs,
      remaining: run.remaining,
      error: run.error,
      startedBy: run.startedBy,
      startedAt: run.startedAt,
      updatedAt: run.updatedAt,
      finishedAt: run.finishedAt,
      progress: progressOf(run, state, launcher.progressOf(run.id), now),
      canCancel: state === "running" || state === "interrupted",
      canResume: state === "interrupted" || state === "failed" || state === "cancelled",
    };
  });
}

/** Newest first (started at, then id), keyset-paginated: a page costs the same however many runs there are. */
export async function listRuns(db: Db, input: { cursor?: RunCursor; limit?: number } = {}): Promise<RunPage> {
  const cursor = input.cursor === undefined ? undefined : parseInput(runCursorSchema, input.cursor);
  const limit = pageLimit(input.limit, 20, PAGE_MAX);
  const rows = await db.backfillRun.findMany({
    where: cursor ? { OR: [{ startedAt: { lt: cursor.startedAt } }, { startedAt: cursor.startedAt, id: { lt: cursor.id } }] } : {},
    orderBy: [{ startedAt: "desc" }, { id: "desc" }],
    take: keysetTake(limit),
  });
  const { items, nextCursor } = keysetPage(rows, limit, (last) => ({ startedAt: last.startedAt, id: last.id }));
  return { items: await viewRuns(db, items), nextCursor };
}

async function findRunRow(db: Db, runId: string): Promise<BackfillRun> {
  const id = parseInput(runIdSchema, runId);
  const run = await db.backfillRun.findUnique({ where: { id } });
  if (!run) throw new BillingError("NOT_FOUND", "backfill_run_not_found", `There is no backfill run ${id}`);
  return run;
}

export async function getRun(db: Db, runId: string, launcher: BackfillLauncher = backgroundBackfills()): Promise<RunView> {
  const [view] = await viewRuns(db, [await findRunRow(db, runId)], launcher);
  return view as RunView;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The WHERE clause of a run's filtered diff report (shared by the page and the CSV). */
export function diffConditions(runId: string, filter: DiffFilter, after?: DiffCursor): Prisma.Sql {
  const conditions = [Prisma.sql`d.run_id = ${runId}::uuid`];
  if (filter.metric) conditions.push(Prisma.sql`d.metric = ${filter.metric}`);
  if (filter.kind) conditions.push(Prisma.sql`d.kind = ${filter.kind}`);
  if (filter.org) {
    conditions.push(
      UUID_PATTERN.test(filter.org)
        ? Prisma.sql`d.org_id = ${filter.org.toLowerCase()}::uuid`
        : Prisma.sql`o.slug LIKE ${`${escapeLike(filter.org)}%`} ESCAPE '\\'`,
    );
  }
  if (after) conditions.push(Prisma.sql`(d.org_id, d.metric) > (${after.orgId}::uuid, ${after.metric})`);
  return Prisma.join(conditions, " AND ");
}

interface DiffRowSql {
  org_id: string;
  org_slug: string | null;
  org_name: string | null;
  metric: BackfillMetric;
  kind: DiffKind;
  legacy_wrong: boolean;
  cache_wrong: boolean;
  ledger_wrong: boolean;
  legacy_value: bigint | null;
  old_count: bigint;
  cache_before: bigint | null;
  ledger_before: bigint;
  delta_applied: bigint;
  cache_repaired: boolean;
}

/** One page of a run's diff report in (org id, metric) order, filtered; NOT_FOUND for an unknown run. */
export async function listDiffs(
  db: Db,
  runId: string,
  input: { filter?: DiffFilter; cursor?: DiffCursor; limit?: number } = {},
): Promise<DiffPage> {
  const run = await findRunRow(db, runId);
  const filter = parseInput(diffFilterSchema, input.filter ?? {});
  const cursor = input.cursor === undefined ? undefined : parseInput(diffCursorSchema, input.cursor);
  const limit = pageLimit(input.limit, 50, PAGE_MAX);
  const rows = await db.$queryRaw<DiffRowSql[]>(Prisma.sql`
    SELECT d.org_id::text AS org_id, o.slug AS org_slug, o.name AS org_name, d.metric, d.kind, d.legacy_wrong, d.cache_wrong,
           d.ledger_wrong, d.legacy_value, d.old_count, d.cache_before, d.ledger_before, d.delta_applied, d.cache_repaired
    FROM backfill_diffs d LEFT JOIN organizations o ON o.id = d.org_id
    WHERE ${diffConditions(run.id, filter, cursor)}
    ORDER BY d.org_id, d.metric
    LIMIT ${keysetTake(limit)}`);
  const { items: shown, nextCursor } = keysetPage(rows, limit, (last) => ({ orgId: last.org_id, metric: last.metric }));
  const items = shown.map((r): DiffItem => ({
    orgId: r.org_id,
    orgSlug: r.org_slug,
    orgName: r.org_name,
    metric: r.metric,
    kind: r.kind,
    legacyWrong: r.legacy_wrong,
    cacheWrong: r.cache_wrong,
    ledgerWrong: r.ledger_wrong,
    legacyValue: r.legacy_value,
    oldCount: r.old_count,
    cacheBefore: r.cache_before,
    ledgerBefore: r.ledger_before,
    deltaApplied: r.delta_applied,
    cacheRepaired: r.cache_repaired,
  }));
  return { items, nextCursor };
}
