import { Prisma } from "@/server/db/client";

import type { Metric } from "./catalogue";
import { BAND_COLUMNS, BAND_FORGOTTEN_SET, inBandSql, NO_STALE_BANDS_COLUMN, STALE_BANDS_COLUMN } from "./usage-alerts/alert-band";
import { DECIDE_USAGE_ALERTS, MOVED_ROW_RETURNING } from "./usage-alerts/alert-sql";
import { WINDOW_RESET_ACTOR, windowResetCtes, windowResetKey } from "./window-reset";
import type { UsageWindow } from "./windows";

/*
 * STALE_ROW: why a single-row write computes the new count from the row its `locked` CTE
 * returned and never from the UPDATE's own `c.count`. The UPDATE reads the row as of the
 * statement's snapshot; when another writer committed while this statement waited for the
 * lock, that version is stale. PostgreSQL does recompute the new row from the latest version
 * before writing it (EvalPlanQual), but it checks CHECK constraints on the row computed from
 * the stale one first: `count >= 0` then fails for a row that is fine (a decrement of a count
 * a concurrent write just raised; a reset removing usage recorded since the snapshot). The
 * locked row is the latest version, and no one else can change it until this commits.
 */

/**
 * How a single-row write (increment, consume) is written: LEAN, when the write provably
 * decides no usage alert — the new count stays in the row's alert band (alert-band.ts) and
 * no window starts — and otherwise FULL, deciding the alerts in the same statement. The lean
 * statement writes nothing at all when the locked row is out of its band (`band_refused`),
 * and the writer then runs the full one: a crossing is still decided by the statement that
 * writes the ledger row, and the common write pays none of the deciding SQL (not even the
 * planning and start-up of its CTEs, which cost a tenth of the statement when idle).
 */
export type RowWriteVariant = "lean" | "full";

/**
 * The parts of a single-row write statement that a window and the variant change. The
 * statement locks the row in a CTE `held` (selecting `columns`), follows it with `locked`
 * (the held row, when this variant may write it), inserts its ledger row `FROM source` (one
 * row while the lock is held), caps against `count` (the count in the row's window, before
 * this write), updates the cache in a CTE `upd`, appends `decide`, and selects `answers`
 * (`stale_bands` for refreshAlertBands, `band_refused`) and may report `windowStart` (where the
 * row counts after it). A gauge (`window` null) has no reset, no extra work.
 */
export function rowWriteSql(orgId: string, metric: Metric, window: UsageWindow | null, at: Date, delta: bigint, variant: RowWriteVariant) {
  const lean = variant === "lean";
  // In numeric: a count past 2^63-1 is the cap's (or the range check's) to refuse, not an overflow here.
  const newCount = Prisma.sql`held.count::numeric + ${delta}::numeric`;
  // A lean write keeps the row only inside its band and its window; a full one always.
  const inWindow = window ? Prisma.sql` AND held.window_start >= ${window.start}::timestamptz` : Prisma.empty;
  const keep = lean ? Prisma.sql`WHERE ${inBandSql("held", newCount, Prisma.sql`${at}::timestamptz`)}${inWindow}` : Prisma.empty;
  const shared = {
    locked: Prisma.sql`, locked AS (SELECT * FROM held ${keep})`,
    decide: lean ? Prisma.empty : DECIDE_USAGE_ALERTS,
    answers: Prisma.sql`${lean ? NO_STALE_BANDS_COLUMN : STALE_BANDS_COLUMN},
      (EXISTS (SELECT 1 FROM held) AND NOT EXISTS (SELECT 1 FROM locked)) AS band_refused`,
  };
  // A full write decides for the row, so the row has no band until the writer refreshes it.
  const forget = lean ? Prisma.empty : BAND_FORGOTTEN_SET;
  if (!window) {
    return {
      ...shared,
      columns: Prisma.raw(`count, ${BAND_COLUMNS}`),
      ctes: Prisma.empty,
      source: Prisma.sql`locked`,
      count: Prisma.sql`count`,
      update: Prisma.sql`upd AS (
        -- An UPDATE, not an upsert: PostgreSQL checks CHECK constraints on the row an
        -- upsert proposes to insert, so a decrement would fail even when a row exists.
        -- From the LOCKED count, not c.count (see STALE_ROW above).
        UPDATE usage_cache c SET count = locked.count + ins.delta, last_updated = ins.timestamp${forget}
        FROM ins, locked WHERE c.org_id = ins.org_id AND c.metric = ins.metric
        RETURNING ${MOVED_ROW_RETURNING}
      )`,
      windowStart: Prisma.sql`NULL::timestamptz`,
    };
  }
  return {
    ...shared,
    columns: Prisma.raw(`count, window_start, ${BAND_COLUMNS}`),
    ctes: Prisma.sql`, w AS (
      SELECT ${orgId}::uuid AS org_id, ${metric}::text AS metric, locked.count, locked.window_start,
             ${window.start}::timestamptz AS ws, ${windowResetKey(metric, window.start)}::text AS reset_key,
             ${window.start.toISOString()}::text AS ws_iso
      FROM locked
    )${windowResetCtes(WINDOW_RESET_ACTOR, at)}`,
    source: Prisma.sql`win`,
    count: Prisma.sql`(count - carried)`,
    // Its reset's delta and the write's (`ins`) in one change, the window moved. It runs when
    // the window moves even if nothing is inserted (a replayed key, a refused consume): the
    // reset was written and the cache must follow it. From the locked row (STALE_ROW above).
    update: Prisma.sql`upd AS (
      UPDATE usage_cache c
      SET count = win.count + COALESCE((SELECT delta FROM reset), 0) + COALESCE((SELECT delta FROM ins), 0),
          last_updated = COALESCE((SELECT timestamp FROM ins), (SELECT timestamp FROM reset), c.last_updated),
          window_start = CASE WHEN win.moves THEN win.ws ELSE win.window_start END${forget}
      FROM win WHERE c.org_id = win.org_id AND c.metric = win.metric AND (win.moves OR EXISTS (SELECT 1 FROM ins))
      RETURNING ${MOVED_ROW_RETURNING}
    )`,
    windowStart: Prisma.sql`(SELECT CASE WHEN moves THEN ws ELSE window_start END FROM win)`,
  };
}
