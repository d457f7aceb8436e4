import type { PrismaClient } from "@/server/db/client";
import type { Tx } from "@/server/db/tx";

import { DODO_INGEST_WINDOW_MS, EXPIRY_MARGIN_MS } from "./ingest-events";

/**
 * The reporter's side of `usage_report_outbox` (outbox-sql.ts fills it): claiming pending rows,
 * recording what became of them (sent, expired, failed, put off), and what is left to wait for.
 */

export interface ClaimedRow {
  ledger_id: string;
  org_id: string;
  metric: string;
  event_name: string;
  customer_id: string;
  quantity: bigint;
  event_timestamp: Date;
  attempts: number;
}

/** Pending rows too old for Dodo's window become `expired`: visible, never silently dropped. */
export async function expireStale(prisma: PrismaClient, now: Date, orgId: string | undefined): Promise<number> {
  const cutoff = new Date(now.getTime() - DODO_INGEST_WINDOW_MS + EXPIRY_MARGIN_MS);
  return prisma.$executeRaw`
    UPDATE usage_report_outbox
    SET status = 'expired', updated_at = ${now},
        last_error = 'not sent within Dodo''s 1-hour ingest window'
    WHERE status = 'pending' AND event_timestamp < ${cutoff}
      AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)`;
}

export async function claim(tx: Tx, now: Date, batchSize: number, orgId: string | undefined): Promise<ClaimedRow[]> {
  return tx.$queryRaw<ClaimedRow[]>`
    SELECT ledger_id::text, org_id::text, metric, event_name, customer_id, quantity, event_timestamp, attempts
    FROM usage_report_outbox
    WHERE status = 'pending' AND next_attempt_at <= ${now}
      AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)
    ORDER BY next_attempt_at, event_timestamp
    LIMIT ${batchSize}
    FOR UPDATE SKIP LOCKED`;
}

export async function markStatus(tx: Tx, ids: readonly string[], status: "sent" | "expired" | "failed", now: Date, error: string | null) {
  if (ids.length === 0) return;
  await tx.$executeRaw`
    UPDATE usage_report_outbox
    SET status = ${status}, attempts = attempts + 1, updated_at = ${now}, last_error = ${error},
        sent_at = CASE WHEN ${status} = 'sent' THEN ${now}::timestamptz ELSE sent_at END
    WHERE ledger_id = ANY(${ids}::uuid[])`;
}

export async function defer(tx: Tx, ids: readonly string[], retryAt: Date, now: Date, error: string) {
  await tx.$executeRaw`
    UPDATE usage_report_outbox
    SET attempts = attempts + 1, next_attempt_at = ${retryAt}, updated_at = ${now}, last_error = ${error}
    WHERE ledger_id = ANY(${ids}::uuid[])`;
}

/**
 * When the earliest put-off row may be retried (null: none). Rows already due but not
 * claimable are held by another reporter, which will send them: not waited for.
 */
export async function nextRetryAt(prisma: PrismaClient, now: Date, orgId: string | undefined): Promise<Date | null> {
  const [row] = await prisma.$queryRaw<{ at: Date | null }[]>`
    SELECT min(next_attempt_at) AS at FROM usage_report_outbox
    WHERE status = 'pending' AND next_attempt_at > ${now}
      AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)`;
  return row?.at ?? null;
}

/** Rows still pending after a failed attempt (the run's unfinished business). */
export async function countDeferred(prisma: PrismaClient, orgId: string | undefined): Promise<number> {
  const [row] = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM usage_report_outbox
    WHERE status = 'pending' AND attempts > 0 AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)`;
  return Number(row?.n ?? 0);
}
