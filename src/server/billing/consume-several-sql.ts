import { Prisma } from "@/server/db/client";

import type { Metric } from "./catalogue";
import type { ConsumeWrite } from "./consume-write";
import { LEDGER_COLUMNS } from "./ledger-entry";
import { ledgerInsertCtes } from "./ledger-insert-sql";
import { BAND_COLUMNS, BAND_FORGOTTEN_SET, inBandSql, NO_STALE_BANDS_COLUMN, STALE_BANDS_COLUMN } from "./usage-alerts/alert-band";
import { DECIDE_USAGE_ALERTS, MOVED_ROW_RETURNING } from "./usage-alerts/alert-sql";
import { REPORT_METERED_USAGE } from "./usage-reporting/outbox-sql";
import { WINDOW_RESET_ACTOR, windowResetCtes, windowResetKey } from "./window-reset";
import type { UsageWindow } from "./windows";

/**
 * The ONE statement of a consume that counts several metrics (consume-several.ts): every
 * row it counts in is locked (metric order, as every multi-row writer locks), each period
 * counter whose window is over is reset under its lock (window-reset.ts), and the ledger rows
 * — the action's own, holding the key, and one per `also` metric, counted with it — are
 * inserted only when EVERY metric stays within its cap (the count in its window + the
 * amount ≤ cap), with the cache; or nothing is (a denial). Its rows are the locked ones
 * (`FROM (SELECT 1) LEFT JOIN …`: one row even when nothing was locked), each with what the
 * writer needs to answer: the ledger row written for it, its count as seen and after, where
 * it counts now, the key's prior row, and the band answers (row-write-sql.ts: LEAN writes
 * only while every row stays in its alert band and its window, FULL decides alerts).
 *
 * Each single-row write is one statement already (row-write-sql.ts); this is the same
 * contract for several rows, so `api.call` pays two round trips (policy read, this), not six.
 */

export interface SeveralRowsWrite extends Pick<
  ConsumeWrite,
  "orgId" | "delta" | "reason" | "idempotencyKey" | "actor" | "metadata" | "now"
> {
  /** The action's own metric first (it holds the key), then its `also` metrics. */
  metrics: readonly [Metric, ...Metric[]];
  /** Where each metric counts now (null: a gauge). */
  windows: Partial<Record<Metric, UsageWindow>>;
  /** The count each metric may reach (null: none). */
  caps: Partial<Record<Metric, bigint | null>>;
  variant: "lean" | "full";
}

/** One locked row's answers (all NULL but `prior_id`/`band_refused`/`stale_bands` when none was locked). */
export interface SeveralRowsAnswer {
  locked_metric: Metric | null;
  /** The row's count in its window before this write (after a reset it started). */
  seen_count: bigint | string | null;
  new_count: bigint | string | null;
  window_start: Date | string | null;
  /** The ledger row written for this metric (its LEDGER_COLUMNS), or NULLs. */
  id: string | null;
  prior_id: string | null;
  band_refused: boolean;
  stale_bands: unknown;
}

const HELD_BAND_COLUMNS = Prisma.raw(
  BAND_COLUMNS.split(", ")
    .map((column) => `c.${column}`)
    .join(", "),
);
const LEDGER_COLUMNS_OF_I = Prisma.raw(
  LEDGER_COLUMNS.split(", ")
    .map((column) => `i.${column}`)
    .join(", "),
);

export function severalRowsWriteSql(p: SeveralRowsWrite): Prisma.Sql {
  const lean = p.variant === "lean";
  const [own, ...also] = p.metrics;
  const metrics = [...p.metrics];
  // As text: the same parameter through pg and through Prisma (a caller's transaction).
  const starts = metrics.map((m) => p.windows[m]?.start.toISOString() ?? null);
  const resetKeys = metrics.map((m) => {
    const window = p.windows[m];
    return window ? windowResetKey(m, window.start) : null;
  });
  const caps = metrics.map((m) => p.caps[m]?.toString() ?? null);
  const at = Prisma.sql`${p.now}::timestamptz`;
  // LEAN keeps the rows only when none moves window and every one stays in its band (in
  // numeric: a count past 2^63-1 is the cap's or the range check's to refuse, not an overflow
  // here); FULL resets the rows whose window is over and decides the alerts of every row it moves.
  const inBand = inBandSql("seen", Prisma.sql`seen.count::numeric + ${p.delta}::numeric`, at);
  const windowed = lean
    ? Prisma.sql`, win AS (SELECT w_all.*, FALSE AS moves, 0::bigint AS carried FROM w_all),
      reset AS (SELECT NULL::text AS metric, 0::bigint AS delta, NULL::timestamptz AS "timestamp" WHERE FALSE)`
    : Prisma.sql`, w AS (SELECT * FROM w_all WHERE ws IS NOT NULL)${windowResetCtes(WINDOW_RESET_ACTOR, p.now)}`;
  // A gauge has no window: it never moves (windowResetCtes is for period counters only).
  const rows = lean
    ? Prisma.sql`win`
    : Prisma.sql`(SELECT * FROM win UNION ALL SELECT w_all.*, FALSE, 0::bigint FROM w_all WHERE ws IS NULL)`;
  const refusedBand = lean
    ? // A period row with no window yet (NULL) moves: COALESCE, or the NULL would read as "in band".
      Prisma.sql`count(*) > 0 AND NOT bool_and(${inBand} AND (seen.ws IS NULL OR COALESCE(seen.window_start >= seen.ws, FALSE)))`
    : Prisma.sql`FALSE`;
  return Prisma.sql`
    WITH prior AS (
      SELECT ledger_id AS id FROM usage_idempotency_keys WHERE org_id = ${p.orgId}::uuid AND idempotency_key = ${p.idempotencyKey}
    ), t AS (
      SELECT * FROM unnest(${metrics}::text[], ${starts}::timestamptz[], ${caps}::bigint[], ${resetKeys}::text[])
        AS t(metric, ws, cap, reset_key)
    ), held AS (
      SELECT c.metric, c.count, c.window_start, ${HELD_BAND_COLUMNS}
      FROM usage_cache c
      WHERE c.org_id = ${p.orgId}::uuid AND c.metric = ANY(${metrics}::text[]) AND NOT EXISTS (SELECT 1 FROM prior)
      ORDER BY c.metric FOR UPDATE
    ), w_all AS (
      SELECT ${p.orgId}::uuid AS org_id, held.*, t.ws, t.cap, t.reset_key,
             to_char(t.ws AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ws_iso
      FROM held JOIN t USING (metric)
    )${windowed}, seen AS (
      -- Each locked row with the count it holds in its window before this write (its reset taken off).
      SELECT x.*, x.count + COALESCE(r.delta, 0) AS in_window, r."timestamp" AS reset_at
      FROM ${rows} AS x LEFT JOIN reset r ON r.metric = x.metric
    ), verdict AS (
      SELECT count(*) = ${metrics.length} AND COALESCE(bool_and(seen.cap IS NULL OR seen.in_window <= seen.cap - ${p.delta}::bigint), FALSE) AS allowed,
             ${refusedBand} AS refused_band
      FROM seen
    ), ${ledgerInsertCtes(
      "own",
      Prisma.sql`SELECT gen_random_uuid(), ${p.orgId}::uuid, ${own}::text, ${p.delta}::bigint, ${p.reason}::text, ${p.idempotencyKey}::text,
             ${p.actor}::text, ${JSON.stringify(p.metadata)}::jsonb, ${at}
      FROM verdict WHERE verdict.allowed AND NOT verdict.refused_band`,
    )}, ${ledgerInsertCtes(
      "extra",
      Prisma.sql`SELECT gen_random_uuid(), own.org_id, m, own.delta, own.reason, NULL::text, own.actor,
             ${JSON.stringify({ ...p.metadata, countsWith: p.idempotencyKey })}::jsonb, own.timestamp
      FROM own CROSS JOIN unnest(${also}::text[]) AS m`,
      { keyless: true },
    )}, ins AS (
      SELECT * FROM own UNION ALL SELECT * FROM extra
    )${REPORT_METERED_USAGE}, upd AS (
      -- From the LOCKED count, never c.count (row-write-sql.ts, STALE_ROW); a row whose window
      -- moved is updated even when nothing is inserted: its reset was written.
      UPDATE usage_cache c
      SET count = seen.in_window + COALESCE(i.delta, 0),
          last_updated = COALESCE(i."timestamp", seen.reset_at, c.last_updated),
          window_start = CASE WHEN seen.moves THEN seen.ws ELSE seen.window_start END${lean ? Prisma.empty : BAND_FORGOTTEN_SET}
      FROM seen LEFT JOIN ins i ON i.metric = seen.metric
      WHERE c.org_id = seen.org_id AND c.metric = seen.metric AND (seen.moves OR i.metric IS NOT NULL)
      RETURNING ${MOVED_ROW_RETURNING}
    )${lean ? Prisma.empty : DECIDE_USAGE_ALERTS}
    SELECT seen.metric AS locked_metric, seen.in_window AS seen_count, u.count AS new_count,
           CASE WHEN seen.moves THEN seen.ws ELSE seen.window_start END AS window_start,
           ${LEDGER_COLUMNS_OF_I}, (SELECT id::text FROM prior) AS prior_id,
           COALESCE((SELECT refused_band FROM verdict), FALSE) AS band_refused,
           ${lean ? NO_STALE_BANDS_COLUMN : STALE_BANDS_COLUMN}
    FROM (SELECT 1) AS one
    LEFT JOIN seen ON TRUE
    LEFT JOIN ins i ON i.metric = seen.metric
    LEFT JOIN upd u ON u.metric = seen.metric`;
}
