import type { RawQuery } from "@/server/db/raw-query";
import { retryTransient } from "@/server/db/retry";

import { createEmptyCacheRows } from "./cache-rows";
import type { Metric } from "./catalogue";
import { severalRowsWriteSql, type SeveralRowsAnswer } from "./consume-several-sql";
import type { ConsumeResult, ConsumeWrite } from "./consume-write";
import { BillingError } from "./errors";
import { toLedgerEntry, type LedgerEntry, type LedgerRow } from "./ledger-entry";
import { remainingOf } from "./policy";
import type { OrgPolicyContext } from "./policy-context";
import { readByKey } from "./read-by-key";
import { refreshAlertBands, type StaleBand } from "./usage-alerts/alert-band";
import { countRefusal } from "./usage-errors";
import { windowOfRow } from "./window-usage";

/**
 * `consume` of an action that counts several metrics (actions.ts `also`: api.call counts the
 * billing period's calls and the hour's), all or nothing, in ONE statement
 * (consume-several-sql.ts), as a single-metric consume is (consume-one.ts), with the same
 * rules:
 * - the rows are locked in metric order (the order every multi-row writer locks in, so two of
 *   them cannot deadlock); a period counter whose window is over is reset under its lock
 *   (invariant 10); the ledger rows are written only when every metric stays within its cap;
 * - the primary metric's row carries the idempotency key, so a replay is found (and
 *   answered) by it alone; the others carry none and `metadata.countsWith` = that key
 *   (unique in the org, and the same on every run of the demo history, unlike an id): they
 *   are written in the same statement, so they exist exactly when it does;
 * - whenever nothing was written, the key is read again in a new statement before anything
 *   is denied: a concurrent twin that took the last unit has committed by then (we waited
 *   on its lock), so its retry answers as a replay, never `limit_exceeded`.
 */

export interface SeveralMetricsConsume extends ConsumeWrite {
  /** The action's own metric first (it holds the key), then its `also` metrics. */
  metrics: readonly [Metric, ...Metric[]];
  /** The hard cap on each metric's count after this consume; null: none (unlimited, soft, or freeing usage). */
  caps: Partial<Record<Metric, bigint | null>>;
}

/** @param ownStatement the statement is its own transaction (no caller `tx`): it may run again after a deadlock. */
export async function consumeSeveral(run: RawQuery, ownStatement: boolean, input: SeveralMetricsConsume): Promise<ConsumeResult> {
  const { orgId, metrics, context, now } = input;
  const [own] = metrics;
  let variant: "lean" | "full" = "lean";
  for (let attempt = 0; attempt < 3; attempt++) {
    let rows: (SeveralRowsAnswer & Partial<LedgerRow>)[];
    try {
      const statement = () =>
        run<SeveralRowsAnswer & Partial<LedgerRow>>(severalRowsWriteSql({ ...input, windows: context.windows, variant }));
      // Alone, the statement is its own transaction and may run again; in the caller's, not.
      rows = await (ownStatement ? retryTransient(statement) : statement());
      await refreshAlertBands(run, rows[0]?.stale_bands as StaleBand[] | null, now, { afterCommit: ownStatement });
    } catch (error) {
      throw countRefusal(error, own, orgId) ?? error;
    }
    if (rows[0]?.band_refused) {
      // A row may cross an alert threshold or start a window: the statement that decides it writes it.
      variant = "full";
      continue;
    }
    /** The context as the statement found the rows: their counts (in their windows) and windows. */
    const asLocked = (countOf: (row: SeveralRowsAnswer) => bigint): OrgPolicyContext => {
      const usage = { ...context.usage };
      const windows = { ...context.windows };
      for (const row of rows) {
        const metric = row.locked_metric;
        if (!metric) continue;
        usage[metric] = { count: countOf(row), lastUpdated: now };
        const window = windowOfRow(metric, context.subscription, now, row.window_start ? new Date(row.window_start) : null);
        if (window) windows[metric] = window;
      }
      return { ...context, usage, windows };
    };
    const primary = rows.find((r) => r.id && r.metric === own);
    if (primary) {
      // The decision was made on the pre-lock counts: restate it with the committed ones.
      const final = input.decide(asLocked((row) => BigInt(row.new_count ?? 0n) - input.delta));
      const binding = rows.find((r) => r.locked_metric === final.metric) ?? primary;
      const after = BigInt(binding.new_count ?? 0n);
      // Report the binding metric's usage as it stands after this consume.
      return {
        ...final,
        allowed: true,
        used: after,
        remaining: remainingOf(final.limit ?? null, after),
        entry: toLedgerEntry(primary as LedgerRow),
        replayed: false,
      };
    }
    if (rows[0]?.prior_id) return input.replayOf((await readByKey(run, orgId, input.idempotencyKey)) as LedgerEntry);
    if (rows.filter((r) => r.locked_metric).length < metrics.length) {
      await createEmptyCacheRows(
        run,
        metrics.map((metric) => ({ orgId, metric })),
        now,
      );
      continue;
    }
    // Nothing was written: a cap refused, or a concurrent call with this key committed first
    // (ON CONFLICT waited for it; or it held a row lock, took the last unit, and so made a cap
    // refuse). This statement's snapshot predates that commit; a new one sees it. Only when
    // the key is still unused is this a denial.
    const stored = await readByKey(run, orgId, input.idempotencyKey);
    if (stored) return input.replayOf(stored);
    const denied = input.decide(asLocked((row) => BigInt(row.seen_count ?? 0n)));
    const final = denied.allowed
      ? { ...denied, allowed: false, reason: { code: "limit_exceeded" as const, message: "The limit was reached by a concurrent request" } }
      : denied;
    await input.recordDenial(run, final.metric ?? own, final);
    return { ...final, replayed: false };
  }
  throw new BillingError("CONFLICT", "consume_retry_exhausted", "Could not create the usage rows; retry");
}
