import { Prisma } from "@/server/db/client";
import type { RawQuery } from "@/server/db/raw-query";
import { retryTransient } from "@/server/db/retry";

import { createEmptyCacheRows } from "./cache-rows";
import type { Metric } from "./catalogue";
import type { ConsumeResult, ConsumeWrite } from "./consume-write";
import { BillingError } from "./errors";
import { toLedgerEntry, type LedgerEntry, type LedgerRow } from "./ledger-entry";
import { oneLedgerRowCtes } from "./ledger-insert-sql";
import { remainingOf } from "./policy";
import type { OrgPolicyContext } from "./policy-context";
import { readByKey } from "./read-by-key";
import { rowWriteSql, type RowWriteVariant } from "./row-write-sql";
import { refreshAlertBands, type StaleBand } from "./usage-alerts/alert-band";
import { countRefusal } from "./usage-errors";
import { REPORT_METERED_USAGE } from "./usage-reporting/outbox-sql";
import { windowOfRow } from "./window-usage";

/**
 * `consume` of an action that counts one metric: ONE statement. The cache row is locked
 * (`FOR UPDATE`, which in READ COMMITTED returns the row as the last writer committed it), the
 * ledger row is inserted only when `count + amount <= cap`, and the cache moves only by an
 * inserted row: concurrent consumers serialize on the row lock and each sees the others'
 * committed counts, so the result equals some serial order.
 *
 * The insert is `ON CONFLICT DO NOTHING` on the key's unique index, and whenever nothing was
 * written the key is read again in a new statement before anything is denied — a concurrent
 * twin that took the last unit has committed by then (we waited on its lock), so its retry
 * answers `replayed: true`, never `limit_exceeded`.
 *
 * A period counter is capped in its window: when the row's window is over, the same statement
 * writes the reset row first (window-reset.ts) and caps against the count left in the new
 * window; a consume whose clock read the old window after another write moved the row on
 * counts, and is capped, in the row's window.
 */

export interface OneMetricConsume extends ConsumeWrite {
  metric: Metric;
  /** The hard cap on the count after this consume; null: none (unlimited, soft, or freeing usage). */
  cap: bigint | null;
}

/** @param ownStatement the statement is its own transaction (no caller `tx`): it may run again after a deadlock. */
export async function consumeOne(run: RawQuery, ownStatement: boolean, p: OneMetricConsume): Promise<ConsumeResult> {
  const { cap, delta, now, context } = p;
  // A period counter counts in its window: the statement starts it (window-reset.ts) under
  // the row lock, and caps the count in it. A gauge's statement has none of this.
  const window = context.windows[p.metric];
  // Lean first: most writes stay in the row's alert band (row-write-sql.ts).
  let variant: RowWriteVariant = "lean";
  for (let attempt = 0; attempt < 3; attempt++) {
    const parts = rowWriteSql(p.orgId, p.metric, window ?? null, now, delta, variant);
    let rows: (Partial<LedgerRow> & {
      new_count: bigint | string | null;
      prior_id: string | null;
      seen_count: bigint | string | null;
      window_start?: Date | string | null;
      stale_bands: StaleBand[] | null;
      band_refused: boolean;
    })[];
    try {
      const statement = () =>
        run<(typeof rows)[number]>(Prisma.sql`
        WITH prior AS (
          SELECT ledger_id AS id FROM usage_idempotency_keys WHERE org_id = ${p.orgId}::uuid AND idempotency_key = ${p.idempotencyKey}
        ), held AS (
          SELECT ${parts.columns} FROM usage_cache c
          WHERE c.org_id = ${p.orgId}::uuid AND c.metric = ${p.metric} AND NOT EXISTS (SELECT 1 FROM prior)
          FOR UPDATE
        )${parts.locked}${parts.ctes}, ${oneLedgerRowCtes("ins", {
          // count <= cap - delta, not count + delta <= cap: a cap is set only for a positive
          // delta, so this cannot overflow; an amount that would pass 2^63-1 is a plain denial.
          source: Prisma.sql`${parts.source} WHERE ${cap}::bigint IS NULL OR ${parts.count} <= ${cap}::bigint - ${delta}::bigint`,
          orgId: p.orgId,
          metric: p.metric,
          delta,
          reason: p.reason,
          idempotencyKey: p.idempotencyKey,
          actor: p.actor,
          metadata: JSON.stringify(p.metadata),
          timestamp: now,
        })}${REPORT_METERED_USAGE}, ${parts.update}${parts.decide}
        SELECT ins.*, (SELECT count FROM upd) AS new_count, (SELECT id::text FROM prior) AS prior_id,
               (SELECT ${parts.count} FROM ${parts.source}) AS seen_count, ${parts.windowStart} AS window_start, ${parts.answers}
        FROM (SELECT 1) AS one LEFT JOIN ins ON TRUE`);
      // Alone, the statement is its own transaction and may run again; in the caller's, not.
      rows = await (ownStatement ? retryTransient(statement) : statement());
      const stale = rows[0]?.stale_bands;
      await refreshAlertBands(run, stale, now, { afterCommit: ownStatement });
    } catch (error) {
      throw countRefusal(error, p.metric, p.orgId) ?? error;
    }
    const row = rows[0];
    if (row?.band_refused) {
      // The write may cross an alert threshold: the statement that decides it writes it.
      variant = "full";
      continue;
    }
    /** The context as the statement found the row: its count (in its window) and that window. */
    const asLocked = (count: bigint): OrgPolicyContext => {
      const rowWindow = window && windowOfRow(p.metric, context.subscription, now, row?.window_start ? new Date(row.window_start) : null);
      return {
        ...context,
        usage: { ...context.usage, [p.metric]: { count, lastUpdated: now } },
        windows: rowWindow ? { ...context.windows, [p.metric]: rowWindow } : context.windows,
      };
    };
    if (row?.id) {
      const entry = toLedgerEntry(row as LedgerRow);
      const after = BigInt(row.new_count ?? 0n);
      // The decision was made on the pre-lock count: restate it with the committed one.
      const final = p.decide(asLocked(after - delta));
      // Report the usage as it stands after this consume.
      return { ...final, allowed: true, used: after, remaining: remainingOf(final.limit ?? null, after), entry, replayed: false };
    }
    if (row?.prior_id) return p.replayOf((await readByKey(run, p.orgId, p.idempotencyKey)) as LedgerEntry);
    if (row?.seen_count === null || row?.seen_count === undefined) {
      await createEmptyCacheRows(run, [{ orgId: p.orgId, metric: p.metric }], now);
      continue;
    }
    // Nothing was written: the cap refused, or a concurrent call with this key committed
    // first (ON CONFLICT waited for it; or it held the row lock, took the last unit, and so
    // made the cap refuse). This statement's snapshot predates that commit; a new one sees
    // it. Only when the key is still unused is this a denial.
    const stored = await readByKey(run, p.orgId, p.idempotencyKey);
    if (stored) return p.replayOf(stored);
    const denied = p.decide(asLocked(BigInt(row.seen_count)));
    const final = denied.allowed
      ? {
          ...denied,
          allowed: false,
          reason: { code: "limit_exceeded" as const, message: "The limit was reached by a concurrent request" },
        }
      : denied;
    await p.recordDenial(run, p.metric, final);
    return { ...final, replayed: false };
  }
  throw new BillingError("CONFLICT", "consume_retry_exhausted", "Could not create the usage row; retry");
}
