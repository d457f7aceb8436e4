import type { PrismaClient } from "@/server/db/client";
import type { Tx } from "@/server/db/tx";

import { BillingError } from "../errors";
import { backoffMs, classifyIngestFailure } from "./retry";

/**
 * Sends the usage outbox to Dodo (`POST /events/ingest` through the SDK).
 *
 * Exactly once, by construction: a batch is claimed with `FOR UPDATE SKIP LOCKED` inside a
 * transaction that stays open while the batch is sent, and the rows are marked `sent` in
 * that same transaction. Several reporters take disjoint batches. A reporter that dies
 * mid-batch (killed, crashed, connection lost) rolls back: its rows are pending again and
 * the next reporter sends them again with the SAME `event_id` (the ledger id), which Dodo
 * ignores when it already has it. So every row reaches Dodo at least once, and Dodo counts
 * each event_id once.
 */

/** The part of the `dodopayments` client the reporter uses (the SDK's client fits). */
export interface UsageIngestApi {
  usageEvents: { ingest(body: { events: IngestEvent[] }): PromiseLike<unknown> };
}

export interface IngestEvent {
  event_id: string;
  customer_id: string;
  event_name: string;
  timestamp: string;
  metadata: Record<string, string | number | boolean>;
}

/** Dodo's limit per ingest request. */
export const MAX_INGEST_BATCH = 1000;
/** Dodo rejects events older than one hour… */
export const DODO_INGEST_WINDOW_MS = 60 * 60_000;
/** …so rows this close to the edge are expired rather than risked: one stale event makes
 * Dodo refuse the whole request. */
export const EXPIRY_MARGIN_MS = 2 * 60_000;
/** How long one send may take; the claim's transaction outlives it. */
export const INGEST_TIMEOUT_MS = 30_000;
/** How long a batch may stay claimed (a refused batch is split and sent again in pieces). */
const CLAIM_TIMEOUT_MS = 5 * 60_000;

export interface ReportUsageOptions {
  /** Only this organization's rows. */
  orgId?: string;
  /** Rows per ingest request, 1–1000 (default 1000). */
  batchSize?: number;
  /**
   * Wait for rows a 429/5xx put off (until their retry time) and send them too, up to
   * `maxWaitMs` in all: the command line does; the server's interval does not (its next
   * tick picks them up).
   */
  waitForRetries?: boolean;
  maxWaitMs?: number;
  clock?: () => Date;
  /** Called after each batch (the command line prints progress). */
  onBatch?: (batch: BatchOutcome) => void;
}

export interface BatchOutcome {
  claimed: number;
  sent: number;
  expired: number;
  failed: number;
  /** Put off until `retryAt` (429, 5xx, network, credentials). */
  deferred: number;
  retryAt?: Date;
  error?: string;
}

export interface ReportUsageResult {
  batches: number;
  sent: number;
  expired: number;
  failed: number;
  /** Rows still pending after a deferral when the run ended. */
  deferred: number;
  errors: string[];
}

interface ClaimedRow {
  ledger_id: string;
  org_id: string;
  metric: string;
  event_name: string;
  customer_id: string;
  quantity: bigint;
  event_timestamp: Date;
  attempts: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function toEvent(row: ClaimedRow): IngestEvent {
  const quantity = BigInt(row.quantity);
  return {
    event_id: row.ledger_id,
    customer_id: row.customer_id,
    event_name: row.event_name,
    timestamp: row.event_timestamp.toISOString(),
    metadata: {
      quantity: quantity <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(quantity) : quantity.toString(),
      metric: row.metric,
      org_id: row.org_id,
    },
  };
}

/** Pending rows too old for Dodo's window become `expired`: visible, never silently dropped. */
async function expireStale(prisma: PrismaClient, now: Date, orgId: string | undefined): Promise<number> {
  const cutoff = new Date(now.getTime() - DODO_INGEST_WINDOW_MS + EXPIRY_MARGIN_MS);
  return prisma.$executeRaw`
    UPDATE usage_report_outbox
    SET status = 'expired', updated_at = ${now},
        last_error = 'not sent within Dodo''s 1-hour ingest window'
    WHERE status = 'pending' AND event_timestamp < ${cutoff}
      AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)`;
}

async function claim(tx: Tx, now: Date, batchSize: number, orgId: string | undefined): Promise<ClaimedRow[]> {
  return tx.$queryRaw<ClaimedRow[]>`
    SELECT ledger_id::text, org_id::text, metric, event_name, customer_id, quantity, event_timestamp, attempts
    FROM usage_report_outbox
    WHERE status = 'pending' AND next_attempt_at <= ${now}
      AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)
    ORDER BY next_attempt_at, event_timestamp
    LIMIT ${batchSize}
    FOR UPDATE SKIP LOCKED`;
}

async function markStatus(tx: Tx, ids: readonly string[], status: "sent" | "expired" | "failed", now: Date, error: string | null) {
  if (ids.length === 0) return;
  await tx.$executeRaw`
    UPDATE usage_report_outbox
    SET status = ${status}, attempts = attempts + 1, updated_at = ${now}, last_error = ${error},
        sent_at = CASE WHEN ${status} = 'sent' THEN ${now}::timestamptz ELSE sent_at END
    WHERE ledger_id = ANY(${ids}::uuid[])`;
}

async function defer(tx: Tx, ids: readonly string[], retryAt: Date, now: Date, error: string) {
  await tx.$executeRaw`
    UPDATE usage_report_outbox
    SET attempts = attempts + 1, next_attempt_at = ${retryAt}, updated_at = ${now}, last_error = ${error}
    WHERE ledger_id = ANY(${ids}::uuid[])`;
}

type Delivered = Omit<BatchOutcome, "claimed">;

const NOTHING: Delivered = { sent: 0, expired: 0, failed: 0, deferred: 0 };

function merge(a: Delivered, b: Delivered): Delivered {
  return {
    sent: a.sent + b.sent,
    expired: a.expired + b.expired,
    failed: a.failed + b.failed,
    deferred: a.deferred + b.deferred,
    retryAt: a.retryAt && b.retryAt ? (a.retryAt < b.retryAt ? a.retryAt : b.retryAt) : (a.retryAt ?? b.retryAt),
    error: a.error ?? b.error,
  };
}

/**
 * Sends `rows` and records what became of each, inside the claiming transaction. Dodo
 * refusing the request as a whole (one bad event fails all 1 000) is answered by sending
 * each half again until the event at fault stands alone: only it becomes `failed`.
 * A 429/5xx/network failure puts off every row not yet sent (and stops the splitting).
 */
async function deliver(tx: Tx, api: UsageIngestApi, rows: ClaimedRow[], clock: () => Date): Promise<Delivered> {
  const ids = rows.map((r) => r.ledger_id);
  const now = clock();
  try {
    await api.usageEvents.ingest({ events: rows.map(toEvent) });
    await markStatus(tx, ids, "sent", clock(), null);
    return { ...NOTHING, sent: rows.length };
  } catch (error) {
    const attempts = Math.max(...rows.map((r) => r.attempts));
    const failure = classifyIngestFailure(error, attempts, now);
    if (failure.kind === "retry") {
      const retryAt = new Date(now.getTime() + failure.delayMs);
      await defer(tx, ids, retryAt, now, failure.error);
      return { ...NOTHING, deferred: rows.length, retryAt, error: failure.error };
    }
    if (failure.kind === "reject") {
      const claimed = new Set(ids);
      const expired = failure.expired.filter((id) => claimed.has(id));
      const later = failure.later.filter((id) => claimed.has(id));
      const failed = failure.failed.filter((id) => claimed.has(id));
      const named = new Set([...expired, ...later, ...failed]);
      if (named.size > 0) {
        await markStatus(tx, expired, "expired", now, failure.error);
        await markStatus(tx, failed, "failed", now, failure.error);
        const retryAt = new Date(now.getTime() + backoffMs(attempts));
        if (later.length) await defer(tx, later, retryAt, now, failure.error);
        const outcome: Delivered = {
          ...NOTHING,
          expired: expired.length,
          failed: failed.length,
          deferred: later.length,
          retryAt: later.length ? retryAt : undefined,
          error: failure.error,
        };
        // The rest were refused only because of the named ones: they go again now.
        const rest = rows.filter((r) => !named.has(r.ledger_id));
        return rest.length ? merge(outcome, await deliver(tx, api, rest, clock)) : outcome;
      }
      // Dodo named none of ours: treat it as a refusal of the whole request.
    }
    if (rows.length === 1) {
      await markStatus(tx, ids, "failed", now, failure.error);
      return { ...NOTHING, failed: 1, error: failure.error };
    }
    const half = Math.ceil(rows.length / 2);
    const first = await deliver(tx, api, rows.slice(0, half), clock);
    if (first.retryAt && first.deferred > 0 && first.sent + first.failed + first.expired === 0) {
      // Dodo or the network failed meanwhile: the second half waits too, unsent.
      const second = rows.slice(half);
      await defer(
        tx,
        second.map((r) => r.ledger_id),
        first.retryAt,
        now,
        first.error ?? failure.error,
      );
      return merge(first, { ...NOTHING, deferred: second.length });
    }
    return merge(first, await deliver(tx, api, rows.slice(half), clock));
  }
}

/** Claims one batch, sends it, and records the outcome, all in one transaction. Null: nothing to claim. */
async function sendOneBatch(
  prisma: PrismaClient,
  api: UsageIngestApi,
  options: { batchSize: number; orgId?: string; clock: () => Date },
): Promise<BatchOutcome | null> {
  return prisma.$transaction(
    async (tx) => {
      const rows = await claim(tx, options.clock(), options.batchSize, options.orgId);
      if (rows.length === 0) return null;
      return { claimed: rows.length, ...(await deliver(tx, api, rows, options.clock)) };
    },
    // Splitting a refused batch sends up to ~20 requests while the rows stay claimed.
    { maxWait: 10_000, timeout: CLAIM_TIMEOUT_MS },
  );
}

/**
 * When the earliest put-off row may be retried (null: none). Rows already due but not
 * claimable are held by another reporter, which will send them: not waited for.
 */
async function nextRetryAt(prisma: PrismaClient, now: Date, orgId: string | undefined): Promise<Date | null> {
  const [row] = await prisma.$queryRaw<{ at: Date | null }[]>`
    SELECT min(next_attempt_at) AS at FROM usage_report_outbox
    WHERE status = 'pending' AND next_attempt_at > ${now}
      AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)`;
  return row?.at ?? null;
}

/** Rows still pending after a failed attempt (the run's unfinished business). */
async function countDeferred(prisma: PrismaClient, orgId: string | undefined): Promise<number> {
  const [row] = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM usage_report_outbox
    WHERE status = 'pending' AND attempts > 0 AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)`;
  return Number(row?.n ?? 0);
}

/**
 * Reports pending usage to Dodo until nothing is left to send now (or, with
 * `waitForRetries`, until nothing is left that becomes sendable within `maxWaitMs`).
 */
export async function reportUsage(prisma: PrismaClient, api: UsageIngestApi, options: ReportUsageOptions = {}): Promise<ReportUsageResult> {
  const batchSize = options.batchSize ?? MAX_INGEST_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_INGEST_BATCH) {
    throw new BillingError(
      "BAD_REQUEST",
      "invalid_batch_size",
      `batchSize must be an integer from 1 to ${MAX_INGEST_BATCH}, got ${batchSize}`,
    );
  }
  const clock = options.clock ?? (() => new Date());
  const deadline = Date.now() + (options.maxWaitMs ?? 5 * 60_000);
  const result: ReportUsageResult = { batches: 0, sent: 0, expired: 0, failed: 0, deferred: 0, errors: [] };
  let deferredSeen = false;

  for (;;) {
    result.expired += await expireStale(prisma, clock(), options.orgId);
    const batch = await sendOneBatch(prisma, api, { batchSize, orgId: options.orgId, clock });
    if (batch) {
      result.batches += 1;
      result.sent += batch.sent;
      result.expired += batch.expired;
      result.failed += batch.failed;
      if (batch.error && !result.errors.includes(batch.error)) result.errors.push(batch.error);
      options.onBatch?.(batch);
      if (batch.deferred && batch.retryAt) {
        deferredSeen = true;
        // Dodo asked us to slow down (or is failing): send nothing more until the retry time,
        // not even other rows — or end the run (the server's next tick, or a later command).
        if (!options.waitForRetries) break;
        const wait = batch.retryAt.getTime() - clock().getTime();
        if (Date.now() + wait > deadline) break;
        await sleep(Math.max(0, wait) + 10);
      }
      continue;
    }
    if (!options.waitForRetries) break;
    const now = clock();
    const retryAt = await nextRetryAt(prisma, now, options.orgId);
    if (!retryAt) break;
    const wait = retryAt.getTime() - now.getTime();
    if (Date.now() + wait > deadline) break;
    await sleep(wait + 10);
  }
  if (deferredSeen) result.deferred = await countDeferred(prisma, options.orgId);
  return result;
}
