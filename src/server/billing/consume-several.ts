import { Prisma } from "@/server/db/client";
import { PG, pgError } from "@/server/db/pg-errors";
import type { RawQuery, RawTransaction } from "@/server/db/raw-query";

import type { Metric } from "./catalogue";
import type { ConsumeResult, ConsumeWrite } from "./consume-write";
import { toLedgerEntry, type LedgerEntry, type LedgerRow } from "./ledger-entry";
import { ledgerInsertCtes } from "./ledger-insert-sql";
import { remainingOf } from "./policy";
import type { OrgPolicyContext } from "./policy-context";
import {
  BAND_FORGOTTEN_SET,
  inBandSql,
  NO_STALE_BANDS_COLUMN,
  refreshAlertBands,
  STALE_BANDS_COLUMN,
  type StaleBand,
} from "./usage-alerts/alert-band";
import { DECIDE_USAGE_ALERTS, MOVED_ROW_RETURNING } from "./usage-alerts/alert-sql";
import { belowZero, countOutOfRange } from "./usage-errors";
import { REPORT_METERED_USAGE } from "./usage-reporting/outbox-sql";
import { readByKey } from "./usage-service";
import { currentWindow } from "./usage-window";
import { startWindows, WINDOW_RESET_ACTOR } from "./window-reset";
import { windowOfRow } from "./window-usage";

/**
 * `consume` of an action that counts several metrics (actions.ts `also`: api.call counts the
 * billing period's calls and the hour's). A single-metric consume is one statement; this is
 * one transaction, all or nothing:
 * 1. the missing cache rows are created first, holding nothing;
 * 2. every row is locked, in metric order (the order every multi-row writer locks in, so
 *    two of them cannot deadlock), and only then the key is read: a concurrent twin has
 *    committed by now, and this call is its replay;
 * 3. each row whose window is over is reset (window-reset.ts, invariant 10);
 * 4. the policy decides on the counts as locked — exact, since no one else can change them —
 *    and either one ledger row per metric is inserted, with the cache, or nothing (a denial).
 *
 * The primary metric's row carries the idempotency key, so a replay is found (and answered)
 * by it alone; the others carry none and `metadata.countsWith` = that key (unique in the org,
 * and the same on every run of the demo history, unlike an id): they are written in the same
 * statement, so they exist exactly when it does.
 */

export interface SeveralMetricsConsume extends ConsumeWrite {
  /** The action's own metric first (it holds the key), then its `also` metrics. */
  metrics: readonly [Metric, ...Metric[]];
}

export async function consumeSeveral(run: RawQuery, transaction: RawTransaction, input: SeveralMetricsConsume): Promise<ConsumeResult> {
  const { orgId, metrics } = input;
  if (metrics.some((metric) => !input.context.usage[metric])) {
    // A replay writes nothing, not even an empty cache row.
    const prior = await readByKey(run, orgId, input.idempotencyKey);
    if (prior) return input.replayOf(prior);
    await run(Prisma.sql`
      INSERT INTO usage_cache (org_id, metric, count)
      SELECT ${orgId}::uuid, m, 0 FROM unnest(${[...metrics].sort()}::text[]) AS m ORDER BY m
      ON CONFLICT (org_id, metric) DO NOTHING`);
  }
  try {
    return await transaction((tx) => applyUnderLocks(tx, input));
  } catch (error) {
    const code = pgError(error)?.code;
    if (code === PG.checkViolation) throw belowZero(metrics[0], orgId);
    if (code === PG.numericValueOutOfRange) throw countOutOfRange(metrics[0], orgId);
    throw error;
  }
}

async function applyUnderLocks(run: RawQuery, input: SeveralMetricsConsume): Promise<ConsumeResult> {
  const { orgId, metrics, now, context } = input;
  const locked = await run<{ metric: Metric; count: bigint | string; window_start: Date | string | null; in_band: boolean }>(Prisma.sql`
    SELECT metric, count, window_start, ${inBandSql("c", Prisma.sql`c.count::numeric + ${input.delta}::numeric`, Prisma.sql`${now}::timestamptz`)} AS in_band
    FROM usage_cache c
    WHERE org_id = ${orgId}::uuid AND metric = ANY(${[...metrics]}::text[])
    ORDER BY metric FOR UPDATE`);
  const prior = await readByKey(run, orgId, input.idempotencyKey);
  if (prior) return input.replayOf(prior);

  const counts = new Map(locked.map((r) => [r.metric, BigInt(r.count)]));
  const windowStarts = new Map(locked.map((r) => [r.metric, r.window_start ? new Date(r.window_start) : null]));
  const over = locked.flatMap((r) => {
    const window = currentWindow(r.metric, context.subscription, now);
    const start = windowStarts.get(r.metric);
    return window && (!start || start < window.start) ? [{ orgId, metric: r.metric, windowStart: window.start }] : [];
  });
  for (const started of await startWindows(run, over, { actor: WINDOW_RESET_ACTOR, at: now, rowsLocked: true })) {
    counts.set(started.metric, started.count);
    windowStarts.set(started.metric, started.windowStart);
  }
  /** The context as the rows stand under the locks (post-reset counts, their windows). */
  const asLocked = (): OrgPolicyContext => {
    const usage = { ...context.usage };
    const windows = { ...context.windows };
    for (const metric of metrics) {
      usage[metric] = { count: counts.get(metric) ?? 0n, lastUpdated: now };
      const window = windowOfRow(metric, context.subscription, now, windowStarts.get(metric) ?? null);
      if (window) windows[metric] = window;
    }
    return { ...context, usage, windows };
  };

  const decision = input.decide(asLocked());
  if (!decision.allowed) {
    await input.recordDenial(run, decision.metric ?? null, decision);
    return { ...decision, replayed: false };
  }
  const [own, ...also] = metrics;
  // Every row stays in its alert band (alert-band.ts) and its window: nothing to decide, so
  // the write runs without the deciding SQL; otherwise that SQL decides in the same statement.
  const decides = over.length > 0 || locked.some((r) => !r.in_band);
  // The extra rows are inserted only from the primary's: when a concurrent write took the key
  // for other work (another metric's row, so our locks did not keep it out), ON CONFLICT
  // drops the primary and nothing is written — without failing a caller's transaction.
  const rows = await run<LedgerRow & { new_count: bigint | string; stale_bands: StaleBand[] | null }>(Prisma.sql`
    WITH ${ledgerInsertCtes(
      "own",
      Prisma.sql`VALUES (gen_random_uuid(), ${orgId}::uuid, ${own}::text, ${input.delta}::bigint, ${input.reason}::text, ${input.idempotencyKey}::text,
              ${input.actor}::text, ${JSON.stringify(input.metadata)}::jsonb, ${now}::timestamptz)`,
    )}, ${ledgerInsertCtes(
      "extra",
      Prisma.sql`SELECT gen_random_uuid(), own.org_id, m, own.delta, own.reason, NULL::text, own.actor,
             ${JSON.stringify({ ...input.metadata, countsWith: input.idempotencyKey })}::jsonb, own.timestamp
      FROM own CROSS JOIN unnest(${also}::text[]) AS m`,
      { keyless: true },
    )}, ins AS (
      SELECT * FROM own UNION ALL SELECT * FROM extra
    )${REPORT_METERED_USAGE}, upd AS (
      -- The rows are locked by this transaction's earlier statement: c.count is their latest version.
      UPDATE usage_cache c SET count = c.count + ins.delta, last_updated = ins.timestamp${decides ? BAND_FORGOTTEN_SET : Prisma.empty}
      FROM ins WHERE c.org_id = ins.org_id AND c.metric = ins.metric
      RETURNING ${MOVED_ROW_RETURNING}
    )${decides ? DECIDE_USAGE_ALERTS : Prisma.empty}
    SELECT ins.*, upd.count AS new_count, ${decides ? STALE_BANDS_COLUMN : NO_STALE_BANDS_COLUMN}
    FROM ins JOIN upd ON upd.metric = ins.metric`);
  await refreshAlertBands(run, rows[0]?.stale_bands, now);
  const primary = rows.find((r) => r.metric === own);
  if (!primary) return input.replayOf((await readByKey(run, orgId, input.idempotencyKey)) as LedgerEntry);
  const after = BigInt(rows.find((r) => r.metric === decision.metric)?.new_count ?? primary.new_count);
  // Report the binding metric's usage as it stands after this consume, as a single-metric consume does.
  return {
    ...decision,
    used: after,
    remaining: remainingOf(decision.limit ?? null, after),
    entry: toLedgerEntry(primary),
    replayed: false,
  };
}
