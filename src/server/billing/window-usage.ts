import { Prisma } from "@/server/db/client";
import type { RawQuery } from "@/server/db/raw-query";

import type { Metric } from "./catalogue";
import type { SubscriptionState } from "./policy";
import { currentWindow } from "./usage-window";
import { usageSinceSql } from "./window-reset";
import type { UsageWindow } from "./windows";

/**
 * The read side of usage windows: what a cache row counts in the org's current window,
 * answered WITHOUT writing (a check, the usage summary, the org list), so that a window
 * that has ended reads as the new one before any write has reset it (window-reset.ts).
 */

/** A cache row as read: its count, when it last changed and the window its count belongs to. */
export interface CacheRow {
  count: bigint;
  lastUpdated: Date;
  /** Null: a gauge, or a period counter not written since windows existed. */
  windowStart: Date | null;
}

/**
 * The window a period counter's row reports: the org's current window; or, when a writer
 * has already moved the row past its start (its clock read a later instant, or a renewal
 * started the period early), from the row's window start — what its count belongs to. Null
 * for a gauge.
 */
export function windowOfRow(
  metric: Metric,
  subscription: SubscriptionState | null,
  now: Date,
  rowWindowStart: Date | null,
): UsageWindow | null {
  const current = currentWindow(metric, subscription, now);
  if (!current || !rowWindowStart || rowWindowStart <= current.start) return current;
  const holding = rowWindowStart >= current.end ? (currentWindow(metric, subscription, rowWindowStart) ?? current) : current;
  return { start: rowWindowStart, end: holding.end };
}

/**
 * What `row` counts in `window` (from `windowOfRow`), or "ledger" when only the ledger knows:
 * - the row is in that window: its count;
 * - in an earlier one: 0 (nothing was recorded since, or the write would have moved it);
 * - in none (NULL, written before windows existed): 0 when it last changed before the window
 *   began; else the usage recorded since the window began, which needs the ledger.
 */
export function countInWindow(row: CacheRow | undefined, window: UsageWindow): bigint | "ledger" {
  if (!row) return 0n;
  if (row.windowStart) return row.windowStart >= window.start ? row.count : 0n;
  if (row.count === 0n || row.lastUpdated < window.start) return 0n;
  return "ledger";
}

/**
 * The usage each (metric, window start) of one org recorded since the window began (resets
 * aside): one statement for the rows `countInWindow` could not answer.
 */
export async function usageSince(run: RawQuery, orgId: string, since: { metric: Metric; start: Date }[]): Promise<Map<Metric, bigint>> {
  if (since.length === 0) return new Map();
  const rows = await run<{ metric: Metric; since: bigint | string }>(Prisma.sql`
    SELECT t.metric, ${usageSinceSql("t", Prisma.sql`t.ws`)} AS since
    FROM unnest(${since.map(() => orgId)}::uuid[], ${since.map((s) => s.metric)}::text[], ${since.map((s) => s.start)}::timestamptz[])
      AS t(org_id, metric, ws)`);
  return new Map(rows.map((r) => [r.metric, BigInt(r.since)]));
}
