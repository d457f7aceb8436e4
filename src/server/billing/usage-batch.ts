import { randomUUID } from "node:crypto";

import { Prisma } from "@/server/db/client";
import { PG, pgError } from "@/server/db/pg-errors";
import { viaPrisma } from "@/server/db/raw-query";
import type { Db, Tx } from "@/server/db/tx";

import { createEmptyCacheRows } from "./cache-rows";
import type { Metric } from "./catalogue";
import { BillingError, isBillingError } from "./errors";
import { fastIncrementInput } from "./increment-input-fast";
import { keyReuseConflict, LEDGER_COLUMNS, toLedgerEntry, type LedgerEntry, type LedgerRow, type LedgerWork } from "./ledger-entry";
import { ledgerInsertCtes } from "./ledger-insert-sql";
import type { SubscriptionState } from "./policy";
import { readSubscriptions } from "./policy-context";
import { incrementInputSchema, INT64_MAX, type IncrementInput } from "./schemas";
import { bandSet, refreshAlertBands, STALE_BANDS_COLUMN, type StaleBand } from "./usage-alerts/alert-band";
import { DECIDE_USAGE_ALERTS, MOVED_ROW_RETURNING } from "./usage-alerts/alert-sql";
import { belowZero, countOutOfRange } from "./usage-errors";
import { REPORT_METERED_USAGE } from "./usage-reporting/outbox-sql";
import { currentWindow, windowFollowsSubscription } from "./usage-window";
import { startWindows, WINDOW_RESET_ACTOR, type WindowTarget } from "./window-reset";

/**
 * The batch path of the usage ledger (`UsageService.incrementMany`): parse and dedupe the
 * events, then apply the valid ones in the caller's transaction — one multi-row ledger insert
 * and one aggregated cache update per (org, metric), under the rows' locks.
 */

export const MAX_BATCH = 10_000;

export type BatchEventResult =
  | { index: number; status: "applied"; entry: LedgerEntry }
  | { index: number; status: "duplicate"; entryId: string | null; duplicateOf: "batch" | "history" }
  | { index: number; status: "rejected"; reason: { code: string; message: string } };

/**
 * A concurrent write took one of the batch's idempotency keys for other work after the batch
 * was judged: in the batch's own transaction it is run again; in a caller's, the caller is
 * told to retry (its transaction is spoilt).
 */
export const batchRaced = () =>
  new BillingError(
    "CONFLICT",
    "batch_raced",
    "A concurrent write used one of this batch's idempotency keys for other work; retry the batch",
  );
export const isBatchRaced = (error: unknown) => isBillingError(error) && error.reason === "batch_raced";

export interface BatchItem {
  index: number;
  event: IncrementInput;
  id: string;
}

/**
 * Each event parsed on its own: an invalid one gets its `rejected` result here, a repeat of an
 * earlier event's key its `duplicate` (or `rejected`, for other work); the rest are `valid`.
 */
export function parseBatch(events: readonly unknown[]): { results: (BatchEventResult | undefined)[]; valid: BatchItem[] } {
  const results: (BatchEventResult | undefined)[] = new Array(events.length);
  const valid: BatchItem[] = [];
  // The first event of each (org, key) in this batch: a later one is its duplicate or, if
  // it asks for other work, rejected (invariant 3 holds inside a batch too).
  const seenKeys = new Map<string, IncrementInput>();
  events.forEach((raw, index) => {
    // The plainest valid events without zod (increment-input-fast.ts); the rest through it.
    const fast = fastIncrementInput(raw);
    const parsed = fast ? { success: true as const, data: fast } : incrementInputSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      results[index] = {
        index,
        status: "rejected",
        reason: { code: "invalid_input", message: `${issue?.path.join(".") || "event"}: ${issue?.message}` },
      };
      return;
    }
    const event = parsed.data;
    if (event.idempotencyKey !== undefined) {
      const batchKey = `${event.orgId}\u0000${event.idempotencyKey}`;
      const first = seenKeys.get(batchKey);
      if (first) {
        const conflict = keyReuseConflict(
          { metric: first.metric, delta: first.amount },
          { metric: event.metric, delta: event.amount },
          event.idempotencyKey,
        );
        results[index] = conflict ? rejectedBy(index, conflict) : { index, status: "duplicate", entryId: null, duplicateOf: "batch" };
        return;
      }
      seenKeys.set(batchKey, event);
    }
    valid.push({ index, event, id: randomUUID() });
  });
  return { results, valid };
}

function rejectedBy(index: number, error: BillingError): BatchEventResult {
  return { index, status: "rejected", reason: { code: error.reason, message: error.message } };
}

/** A batch event whose key is already in the ledger: a duplicate of that row, or rejected. */
export function repeatOf(index: number, event: IncrementInput, stored: LedgerWork & { id: string }): BatchEventResult {
  const conflict = keyReuseConflict(stored, { metric: event.metric, delta: event.amount }, event.idempotencyKey as string);
  return conflict ? rejectedBy(index, conflict) : { index, status: "duplicate", entryId: stored.id, duplicateOf: "history" };
}

/** The ledger rows already holding these events' (org, idempotency key), by `org\0key`. */
async function storedByKey(tx: Db, events: IncrementInput[]): Promise<Map<string, LedgerWork & { id: string }>> {
  const keyed = events.filter((e) => e.idempotencyKey !== undefined);
  if (keyed.length === 0) return new Map();
  const rows = await tx.$queryRaw<{ org_id: string; idempotency_key: string; id: string; metric: string; delta: bigint }[]>`
    SELECT l.org_id::text, l.idempotency_key, l.ledger_id::text AS id, l.metric, l.delta FROM usage_idempotency_keys l
    JOIN unnest(${keyed.map((e) => e.orgId)}::uuid[], ${keyed.map((e) => e.idempotencyKey as string)}::text[])
      AS k(org_id, idempotency_key) USING (org_id, idempotency_key)`;
  return new Map(rows.map((r) => [`${r.org_id}\u0000${r.idempotency_key}`, { id: r.id, metric: r.metric, delta: BigInt(r.delta) }]));
}

export async function applyBatch(
  tx: Tx,
  valid: BatchItem[],
  results: (BatchEventResult | undefined)[],
  options: { fallbackActor: string; ownTransaction: boolean; at: Date },
): Promise<void> {
  const orgIds = [...new Set(valid.map((v) => v.event.orgId))];
  // The orgs that exist; with their subscriptions when a billing-period window needs them.
  let subscriptions = new Map<string, SubscriptionState | null>();
  let knownOrgs: Set<string>;
  if (valid.some((v) => windowFollowsSubscription(v.event.metric))) {
    subscriptions = await readSubscriptions(viaPrisma(tx), orgIds);
    knownOrgs = new Set(subscriptions.keys());
  } else {
    const known = await tx.$queryRaw<{ id: string }[]>`
      SELECT id::text FROM organizations WHERE id = ANY(${orgIds}::uuid[])`;
    knownOrgs = new Set(known.map((r) => r.id));
  }

  // Lock every touched cache row in a fixed order (no deadlocks between batches), creating
  // missing ones, so the below-zero check below sees counts no one else can change.
  const pairs = [...new Set(valid.filter((v) => knownOrgs.has(v.event.orgId)).map((v) => `${v.event.orgId}|${v.event.metric}`))].sort();
  const pairOrg = pairs.map((p) => p.split("|")[0] as string);
  const pairMetric = pairs.map((p) => p.split("|")[1] as string);
  const running = new Map<string, bigint>();
  if (pairs.length) {
    await createEmptyCacheRows(
      viaPrisma(tx),
      pairs.map((_, i) => ({ orgId: pairOrg[i] as string, metric: pairMetric[i] as string })),
      options.at,
    );
    const locked = await tx.$queryRaw<{ org_id: string; metric: string; count: bigint; window_start: Date | null }[]>`
      SELECT org_id::text, metric, count, window_start FROM usage_cache
      WHERE (org_id, metric) IN (SELECT * FROM unnest(${pairOrg}::uuid[], ${pairMetric}::text[]))
      ORDER BY org_id, metric FOR UPDATE`;
    for (const r of locked) running.set(`${r.org_id}|${r.metric}`, BigInt(r.count));
    // Period counters whose window is over start the batch's window first (window-reset.ts),
    // under the locks just taken: the events are judged against the count in it.
    const over: WindowTarget[] = [];
    for (const r of locked) {
      const metric = r.metric as Metric;
      const window = currentWindow(metric, subscriptions.get(r.org_id) ?? null, options.at);
      if (window && (!r.window_start || r.window_start < window.start)) over.push({ orgId: r.org_id, metric, windowStart: window.start });
    }
    for (const started of await startWindows(viaPrisma(tx), over, { actor: WINDOW_RESET_ACTOR, at: options.at, rowsLocked: true })) {
      running.set(`${started.orgId}|${started.metric}`, started.count);
    }
  }
  // Keys are read AFTER the rows are locked: every writer takes the row before its key, so a
  // concurrent write of the same work has committed by now and is seen here, and cannot
  // slip in between this check and the insert (where its event would already be counted in
  // `running` for the below-zero check, while the insert drops it).
  const previous = await storedByKey(
    tx,
    valid.filter((v) => knownOrgs.has(v.event.orgId)).map((v) => v.event),
  );

  const toInsert: BatchItem[] = [];
  for (const item of valid) {
    const { event, index } = item;
    if (!knownOrgs.has(event.orgId)) {
      results[index] = {
        index,
        status: "rejected",
        reason: { code: "org_not_found", message: `Organization ${event.orgId} does not exist` },
      };
      continue;
    }
    if (event.idempotencyKey !== undefined) {
      const prior = previous.get(`${event.orgId}\u0000${event.idempotencyKey}`);
      if (prior) {
        results[index] = repeatOf(index, event, prior);
        continue;
      }
    }
    const pair = `${event.orgId}|${event.metric}`;
    const next = (running.get(pair) ?? 0n) + event.amount;
    if (next < 0n) {
      results[index] = {
        index,
        status: "rejected",
        reason: { code: "gauge_below_zero", message: belowZero(event.metric, event.orgId).message },
      };
      continue;
    }
    if (next > INT64_MAX) {
      results[index] = {
        index,
        status: "rejected",
        reason: { code: "count_out_of_range", message: countOutOfRange(event.metric, event.orgId).message },
      };
      continue;
    }
    running.set(pair, next);
    toInsert.push(item);
  }
  if (toInsert.length === 0) return;

  const insert = tx.$queryRaw<(LedgerRow & { stale_bands: StaleBand[] | null })[]>`
    WITH ${ledgerInsertCtes(
      "ins",
      Prisma.sql`SELECT e.*, ${options.at}::timestamptz FROM unnest(
        ${toInsert.map((v) => v.id)}::uuid[],
        ${toInsert.map((v) => v.event.orgId)}::uuid[],
        ${toInsert.map((v) => v.event.metric)}::text[],
        ${toInsert.map((v) => v.event.amount.toString())}::bigint[],
        ${toInsert.map((v) => v.event.reason)}::text[],
        ${toInsert.map((v) => v.event.idempotencyKey ?? null)}::text[],
        ${toInsert.map((v) => v.event.actor ?? options.fallbackActor)}::text[],
        ${toInsert.map((v) => JSON.stringify(v.event.metadata ?? {}))}::jsonb[]) AS e`,
    )}${REPORT_METERED_USAGE}, upd AS (
      UPDATE usage_cache c SET count = c.count + t.total, last_updated = t.at${bandSet("c.count + t.total", "t.at")}
      FROM (SELECT org_id, metric, SUM(delta) AS total, max(timestamp) AS at FROM ins GROUP BY org_id, metric) t
      WHERE c.org_id = t.org_id AND c.metric = t.metric
      RETURNING ${MOVED_ROW_RETURNING}
    )${DECIDE_USAGE_ALERTS}
    -- upd and the alerts (rows created and locked above) run to completion whether or not they are read
    SELECT ${Prisma.raw(LEDGER_COLUMNS)}, ${STALE_BANDS_COLUMN} FROM ins`;
  const inserted = await insert.catch((error: unknown) => {
    // The events were judged with every one of them counted; when ON CONFLICT dropped one (a
    // concurrent write committed its key for another metric: another row, so no lock of ours
    // kept it out) the others' sum may pass zero or 2^63-1. Judged again, they will not.
    const code = pgError(error)?.code;
    throw code === PG.checkViolation || code === PG.numericValueOutOfRange ? batchRaced() : error;
  });
  await refreshAlertBands(viaPrisma(tx), inserted[0]?.stale_bands, options.at);
  const byId = new Map(inserted.map((r) => [r.id, r]));
  for (const item of toInsert) {
    const row = byId.get(item.id);
    if (row) results[item.index] = { index: item.index, status: "applied", entry: toLedgerEntry(row) };
  }
  // A concurrent call committed the same key between our check and our insert (ON CONFLICT
  // waited for it): this new statement sees its row, so judge the repeat against it.
  const lost = toInsert.filter((item) => !byId.has(item.id));
  if (lost.length === 0) return;
  // The others were judged with the lost ones counted: in a transaction of our own, judge
  // the whole batch again (it sees the committed keys now).
  if (options.ownTransaction) throw batchRaced();
  await judgeLost(tx, lost, results);
}

/** Events ON CONFLICT dropped (a concurrent write committed their key): judged against the committed rows. */
export async function judgeLost(tx: Db, lost: BatchItem[], results: (BatchEventResult | undefined)[]): Promise<void> {
  if (lost.length === 0) return;
  const committed = await storedByKey(
    tx,
    lost.map((v) => v.event),
  );
  for (const { index, event } of lost) {
    const prior = committed.get(`${event.orgId}\u0000${event.idempotencyKey}`);
    results[index] = prior ? repeatOf(index, event, prior) : { index, status: "duplicate", entryId: null, duplicateOf: "history" };
  }
}
