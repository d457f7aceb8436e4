import { z } from "zod";

import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { parseInput } from "../errors";
import { keysetPage, keysetTake, type KeysetPage } from "../keyset-page";
import { orgIdSchema } from "../schemas";

/**
 * Staff reads of the usage-report outbox (`usage_report_outbox`, filled with the ledger and
 * drained by the reporter): how many rows are pending, sent, failed or expired, how far the
 * reporter lags behind (the oldest pending row), and the rows that will never reach Dodo
 * (expired: older than Dodo's 1-hour ingest window; failed: Dodo refused the event itself).
 * Knows nothing of tRPC or Next.
 */

export const OUTBOX_STATUSES = ["pending", "sent", "failed", "expired"] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/** The statuses the rows table shows: usage that did not reach Dodo. */
export const UNSENT_STATUSES = ["expired", "failed"] as const satisfies readonly OutboxStatus[];
export const unsentStatusSchema = z.enum(UNSENT_STATUSES);

export interface OutboxStatusReport {
  /** Rows per status; BIGINT, as the outbox gains a row per metered ledger row forever. */
  counts: Record<OutboxStatus, bigint>;
  /** The event time of the oldest pending row (what Dodo's 1-hour window is measured on). */
  oldestPendingAt: Date | null;
  /** Seconds from `oldestPendingAt` to `now` (0 when it is in the future); null when nothing is pending. */
  oldestPendingAgeSeconds: number | null;
  measuredAt: Date;
}

/**
 * Counts per status (the (status, …) indexes make each an index-only scan) and the oldest
 * pending row by event time (the first entry of the (status, event_timestamp) index).
 * `orgId` narrows both to one organization.
 */
export async function outboxStatus(db: Db, options: { orgId?: string; now?: Date } = {}): Promise<OutboxStatusReport> {
  const now = options.now ?? new Date();
  const org = options.orgId ? Prisma.sql`AND org_id = ${options.orgId}::uuid` : Prisma.empty;
  const [counts, oldest] = await Promise.all([
    db.$queryRaw<{ status: string; rows: bigint }[]>`
      SELECT status, count(*)::bigint AS rows FROM usage_report_outbox WHERE true ${org} GROUP BY status`,
    db.$queryRaw<{ event_timestamp: Date }[]>`
      SELECT event_timestamp FROM usage_report_outbox WHERE status = 'pending' ${org}
      ORDER BY event_timestamp LIMIT 1`,
  ]);
  const byStatus = Object.fromEntries(OUTBOX_STATUSES.map((s) => [s, 0n])) as Record<OutboxStatus, bigint>;
  for (const row of counts) if (row.status in byStatus) byStatus[row.status as OutboxStatus] = BigInt(row.rows);
  const oldestPendingAt = oldest[0]?.event_timestamp ?? null;
  return {
    counts: byStatus,
    oldestPendingAt,
    oldestPendingAgeSeconds: oldestPendingAt ? Math.max(0, Math.floor((now.getTime() - oldestPendingAt.getTime()) / 1000)) : null,
    measuredAt: now,
  };
}

export const outboxRowsFilterSchema = z.object({
  /** Default: both expired and failed. */
  statuses: z
    .array(unsentStatusSchema)
    .min(1)
    .max(UNSENT_STATUSES.length)
    .default([...UNSENT_STATUSES]),
  orgId: orgIdSchema.optional(),
});
export type OutboxRowsFilter = z.input<typeof outboxRowsFilterSchema>;

/** The last row of a page: (event_timestamp, ledger_id), newest first. */
export const outboxCursorSchema = z.object({ eventTimestamp: z.date(), ledgerId: z.uuid() });
export type OutboxCursor = z.infer<typeof outboxCursorSchema>;

export interface OutboxRow {
  orgId: string;
  /** Null when the organization no longer exists. */
  orgName: string | null;
  ledgerId: string;
  metric: string;
  eventName: string;
  customerId: string;
  subscriptionId: string;
  quantity: bigint;
  eventTimestamp: Date;
  status: string;
  attempts: number;
  lastError: string | null;
  updatedAt: Date;
}

export type OutboxRowPage = KeysetPage<OutboxRow, OutboxCursor>;

/** Unsent rows (expired and/or failed), newest event first, keyset-paginated on (event_timestamp, ledger_id). */
export async function listUnsentOutboxRows(
  db: Db,
  filter: OutboxRowsFilter,
  page: { cursor?: OutboxCursor; limit: number },
): Promise<OutboxRowPage> {
  const { statuses, orgId } = parseInput(outboxRowsFilterSchema, filter);
  const conditions: Prisma.Sql[] = [Prisma.sql`u.status IN (${Prisma.join(statuses)})`];
  if (orgId) conditions.push(Prisma.sql`u.org_id = ${orgId}::uuid`);
  if (page.cursor)
    conditions.push(Prisma.sql`(u.event_timestamp, u.ledger_id) < (${page.cursor.eventTimestamp}, ${page.cursor.ledgerId}::uuid)`);
  const rows = await db.$queryRaw<
    {
      org_id: string;
      org_name: string | null;
      ledger_id: string;
      metric: string;
      event_name: string;
      customer_id: string;
      subscription_id: string;
      quantity: bigint;
      event_timestamp: Date;
      status: string;
      attempts: number;
      last_error: string | null;
      updated_at: Date;
    }[]
  >`
    SELECT u.org_id::text AS org_id, o.name AS org_name, u.ledger_id::text AS ledger_id, u.metric, u.event_name,
           u.customer_id, u.subscription_id, u.quantity, u.event_timestamp, u.status, u.attempts, u.last_error, u.updated_at
    FROM usage_report_outbox u LEFT JOIN organizations o ON o.id = u.org_id
    WHERE ${Prisma.join(conditions, " AND ")}
    ORDER BY u.event_timestamp DESC, u.ledger_id DESC
    LIMIT ${keysetTake(page.limit)}`;
  const { items: shown, nextCursor } = keysetPage(rows, page.limit, (last) => ({
    eventTimestamp: last.event_timestamp,
    ledgerId: last.ledger_id,
  }));
  const items: OutboxRow[] = shown.map((r) => ({
    orgId: r.org_id,
    orgName: r.org_name,
    ledgerId: r.ledger_id,
    metric: r.metric,
    eventName: r.event_name,
    customerId: r.customer_id,
    subscriptionId: r.subscription_id,
    quantity: BigInt(r.quantity),
    eventTimestamp: r.event_timestamp,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    updatedAt: r.updated_at,
  }));
  return { items, nextCursor };
}
