import type { PrismaClient } from "@/server/db/client";

import { BillingError } from "../errors";
import { deliver, type BatchOutcome } from "./deliver-batch";
import { MAX_INGEST_BATCH, type UsageIngestApi } from "./ingest-events";
import { claim, countDeferred, expireStale, nextRetryAt } from "./outbox-claims";

/**
 * Reports the usage outbox to Dodo (`POST /events/ingest` through the SDK): batch after batch,
 * each claimed, sent and recorded in one transaction, until nothing is left to send now (or
 * worth waiting for). A batch's rows are claimed and recorded in outbox-claims.ts, sent (and
 * split when refused) in deliver-batch.ts.
 *
 * Exactly once, by construction: a batch is claimed with `FOR UPDATE SKIP LOCKED` inside a
 * transaction that stays open while the batch is sent, and the rows are marked `sent` in
 * that same transaction. Several reporters take disjoint batches. A reporter that dies
 * mid-batch (killed, crashed, connection lost) rolls back: its rows are pending again and
 * the next reporter sends them again with the SAME `event_id` (the ledger id), which Dodo
 * ignores when it already has it. So every row reaches Dodo at least once, and Dodo counts
 * each event_id once.
 */

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

export interface ReportUsageResult {
  batches: number;
  sent: number;
  expired: number;
  failed: number;
  /** Rows still pending after a deferral when the run ended. */
  deferred: number;
  errors: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
