import { Prisma } from "@/server/db/client";
import type { RawQuery } from "@/server/db/raw-query";

import type { Metric } from "./catalogue";
import { LEDGER_COLUMNS, toLedgerEntry, type LedgerEntry, type LedgerRow } from "./ledger-entry";
import { ledgerInsertCtes } from "./ledger-insert-sql";

/**
 * How a period counter's window starts (invariant 10 in ARCHITECTURE.md): lazily, by the
 * statement that first touches the new window. Under the cache row's lock, a row whose
 * `window_start` is before the writer's window (or NULL: not written since windows existed)
 * gets a `window_reset` ledger row removing the usage recorded before the window's start, and
 * `window_start` moves to it — the reset, the write and the cache change commit together, so
 * cache == SUM(ledger) holds and no cron is needed. A window never moves backwards: a writer
 * whose clock read the old window just before another moved the row on counts in the new one.
 *
 * Every path shares the CTEs below: increment and consume inline them in their one
 * statement; incrementMany, the Dodo renewal (resetPeriod) and the catch-up command run
 * `startWindows`. The reset's idempotency key names (metric, window start), so whichever of
 * them comes first writes the one reset of a window and the others find it done.
 */

export const WINDOW_RESET_REASON = "window_reset";
/** Who a lazy reset is recorded as: no caller asked for it, the window's end did. */
export const WINDOW_RESET_ACTOR = "system";

/**
 * Rows that end a window rather than record usage: `window_reset`, and the `monthly_reset`
 * rows renewals wrote before windows existed. "Usage recorded since the window started"
 * leaves them out: a reset dated inside the window removed usage from before it.
 */
export const RESET_REASONS = [WINDOW_RESET_REASON, "monthly_reset"] as const;

export function windowResetKey(metric: string, windowStart: Date): string {
  return `${WINDOW_RESET_REASON}:${metric}:${windowStart.toISOString()}`;
}

// Constants, inlined as literals: the hot statements keep their parameters.
const RESET_REASONS_SQL = Prisma.raw(RESET_REASONS.map((r) => `'${r}'`).join(", "));
const RESET_REASON_SQL = Prisma.raw(`'${WINDOW_RESET_REASON}'`);
/** The reset row's ledger columns, as `startWindows` returns them beside the cache row's. */
const RESET_COLUMNS = Prisma.raw(
  LEDGER_COLUMNS.split(", ")
    .map((column) => `r.${column}`)
    .join(", "),
);

/**
 * The usage of (org_id, metric) recorded at or after `ws`: a correlated subquery over the
 * ledger's (org_id, timestamp) index, for aliases `src.org_id`, `src.metric` and `ws`.
 */
export function usageSinceSql(src: string, ws: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(SELECT COALESCE(SUM(g.delta), 0)::bigint FROM usage_ledger g
    WHERE g.org_id = ${Prisma.raw(src)}.org_id AND g.metric = ${Prisma.raw(src)}.metric
      AND g.timestamp >= ${ws} AND g.reason NOT IN (${RESET_REASONS_SQL}))`;
}

/**
 * Two CTEs after a CTE `w(org_id, metric, count, window_start, ws, reset_key, ws_iso)` of
 * LOCKED cache rows and the window each must count in from now (`ws`):
 * - `win`: `w` plus `moves` (the row's window is before `ws`) and `carried` (the count
 *   recorded before `ws`, to remove; never more than the count, never negative);
 * - `reset`: the `window_reset` ledger rows (`RETURNING *`), one per row with usage carried.
 * The caller's cache update adds `reset.delta` and sets `window_start = ws` where `moves`.
 */
export function windowResetCtes(actor: string, at: Date): Prisma.Sql {
  return Prisma.sql`, win AS (
    SELECT w.*, (w.window_start IS NULL OR w.window_start < w.ws) AS moves,
      CASE WHEN (w.window_start IS NULL OR w.window_start < w.ws) AND w.count > 0
        THEN GREATEST(LEAST(w.count, w.count - ${usageSinceSql("w", Prisma.sql`w.ws`)}), 0)
        ELSE 0 END AS carried
    FROM w
  ), ${ledgerInsertCtes(
    "reset",
    // A key already used cannot be this window's reset (a row whose reset was written is in
    // that window, so it does not move): the claim's ON CONFLICT keeps a stray key from failing the write.
    Prisma.sql`SELECT gen_random_uuid(), win.org_id, win.metric, -win.carried, ${RESET_REASON_SQL}, win.reset_key::text, ${actor}::text,
           jsonb_build_object('windowStart', win.ws_iso), ${at}::timestamptz
    FROM win WHERE win.carried > 0`,
  )}`;
}

export interface WindowTarget {
  orgId: string;
  metric: Metric;
  /** The start of the window the row must count in (a row already there or past it stays). */
  windowStart: Date;
}

export interface StartedWindow {
  orgId: string;
  metric: Metric;
  /** The window the row counts in now. */
  windowStart: Date;
  /** The cache count after the reset. */
  count: bigint;
  /** The reset row, or null when nothing was recorded before the window (the window just moved). */
  reset: LedgerEntry | null;
}

/**
 * Moves each target's cache row into its window (rows without a cache row are skipped):
 * the reset rows and the cache updates in one statement, after locking the rows in key
 * order in a statement of its own (unless the caller holds them: `rowsLocked`), so the
 * reset's snapshot sees every write committed under the lock. Run it in a transaction (the
 * batch's, the renewal's, the catch-up's): the locks are held to its end. Returns the rows
 * that moved.
 */
export async function startWindows(
  run: RawQuery,
  targets: readonly WindowTarget[],
  options: { actor: string; at: Date; rowsLocked?: boolean },
): Promise<StartedWindow[]> {
  if (targets.length === 0) return [];
  const orgIds = targets.map((t) => t.orgId);
  const metrics = targets.map((t) => t.metric);
  if (!options.rowsLocked) {
    await run(Prisma.sql`
      SELECT 1 FROM usage_cache
      WHERE (org_id, metric) IN (SELECT * FROM unnest(${orgIds}::uuid[], ${metrics}::text[]))
      ORDER BY org_id, metric FOR UPDATE`);
  }
  const rows = await run<
    { cache_org_id: string; cache_metric: string; new_count: bigint | string; new_window_start: Date | string } & Partial<LedgerRow>
  >(Prisma.sql`
    WITH w AS (
      SELECT c.org_id, c.metric, c.count, c.window_start, t.ws, t.reset_key, t.ws_iso
      FROM unnest(${orgIds}::uuid[], ${metrics}::text[], ${targets.map((t) => t.windowStart)}::timestamptz[],
                  ${targets.map((t) => windowResetKey(t.metric, t.windowStart))}::text[],
                  ${targets.map((t) => t.windowStart.toISOString())}::text[]) AS t(org_id, metric, ws, reset_key, ws_iso)
      JOIN usage_cache c ON c.org_id = t.org_id AND c.metric = t.metric
    )${windowResetCtes(options.actor, options.at)}
    UPDATE usage_cache c
    SET count = c.count + COALESCE(r.delta, 0), last_updated = COALESCE(r.timestamp, c.last_updated), window_start = win.ws,
        -- A new window has no marks yet: its band is not known until the next write decides.
        alert_next = NULL, alert_gen = c.alert_gen + 1
    FROM win LEFT JOIN reset r ON r.org_id = win.org_id AND r.metric = win.metric
    WHERE c.org_id = win.org_id AND c.metric = win.metric AND win.moves
    RETURNING c.org_id::text AS cache_org_id, c.metric AS cache_metric, c.count AS new_count, c.window_start AS new_window_start,
              ${RESET_COLUMNS}`);
  return rows.map((row) => ({
    orgId: row.cache_org_id,
    metric: row.cache_metric as Metric,
    windowStart: new Date(row.new_window_start),
    count: BigInt(row.new_count),
    reset: row.id ? toLedgerEntry(row as LedgerRow) : null,
  }));
}
