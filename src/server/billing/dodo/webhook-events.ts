import { z } from "zod";

import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { BillingError } from "../errors";
import { keysetPage, keysetTake, type KeysetPage } from "../keyset-page";
import { orgIdSchema } from "../schemas";
import { WEBHOOK_STATUSES, type WebhookStatus } from "./webhook-status";

/**
 * Staff reads of `webhook_events`: filtered keyset pages (newest first, never OFFSET), one
 * event with its payload, and counts per status. Knows nothing of tRPC or Next.
 */

export const webhookStatusSchema = z.enum(WEBHOOK_STATUSES);

export const webhookEventFilterSchema = z
  .object({
    /** Exact event type, e.g. `subscription.active`. */
    type: z.string().trim().min(1).max(200).optional(),
    /** Any of these statuses. */
    statuses: z.array(webhookStatusSchema).min(1).max(WEBHOOK_STATUSES.length).optional(),
    orgId: orgIdSchema.optional(),
    /** Received at or after, UTC. */
    from: z.date().optional(),
    /** Received before (exclusive), UTC. */
    to: z.date().optional(),
  })
  .refine((f) => !f.from || !f.to || f.from < f.to, { path: ["to"], message: "must be after from" });
export type WebhookEventFilter = z.infer<typeof webhookEventFilterSchema>;

/** The last row of a page: (received_at, id), newest first. */
export const webhookCursorSchema = z.object({ receivedAt: z.date(), id: z.string().min(1).max(200) });
export type WebhookCursor = z.infer<typeof webhookCursorSchema>;

export interface WebhookEventSummary {
  id: string;
  type: string;
  status: string;
  attempts: number;
  error: string | null;
  outcome: string | null;
  orgId: string | null;
  /** The org's name; null without an org or when it no longer exists. */
  orgName: string | null;
  subscriptionId: string | null;
  eventTimestamp: Date | null;
  receivedAt: Date;
  processedAt: Date | null;
}

export interface WebhookEventDetail extends WebhookEventSummary {
  payload: unknown;
}

/** Newest first: `nextCursor` leads to older events. */
export type WebhookEventPage = KeysetPage<WebhookEventSummary, WebhookCursor>;

interface EventRow {
  id: string;
  type: string;
  status: string;
  attempts: number;
  error: string | null;
  outcome: string | null;
  org_id: string | null;
  org_name: string | null;
  subscription_id: string | null;
  event_timestamp: Date | null;
  received_at: Date;
  processed_at: Date | null;
  payload?: unknown;
}

const SUMMARY_COLUMNS = Prisma.sql`
  e.id, e.type, e.status, e.attempts, e.error, e.outcome, e.org_id::text AS org_id, o.name AS org_name,
  e.subscription_id, e.event_timestamp, e.received_at, e.processed_at`;

function toSummary(row: EventRow): WebhookEventSummary {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    error: row.error,
    outcome: row.outcome,
    orgId: row.org_id,
    orgName: row.org_name,
    subscriptionId: row.subscription_id,
    eventTimestamp: row.event_timestamp,
    receivedAt: row.received_at,
    processedAt: row.processed_at,
  };
}

function whereClause(filter: WebhookEventFilter, cursor?: WebhookCursor): Prisma.Sql {
  const conditions: Prisma.Sql[] = [];
  if (filter.type) conditions.push(Prisma.sql`e.type = ${filter.type}`);
  if (filter.statuses) conditions.push(Prisma.sql`e.status IN (${Prisma.join(filter.statuses)})`);
  if (filter.orgId) conditions.push(Prisma.sql`e.org_id = ${filter.orgId}::uuid`);
  if (filter.from) conditions.push(Prisma.sql`e.received_at >= ${filter.from}`);
  if (filter.to) conditions.push(Prisma.sql`e.received_at < ${filter.to}`);
  if (cursor) conditions.push(Prisma.sql`(e.received_at, e.id) < (${cursor.receivedAt}, ${cursor.id})`);
  return conditions.length ? Prisma.sql`WHERE ${Prisma.join(conditions, " AND ")}` : Prisma.empty;
}

/**
 * Newest first, keyset-paginated on (received_at, id): the indexes on (status|type|org_id,
 * received_at) serve each filter, a page costs the same anywhere in the history, and events
 * arriving meanwhile never shift a page.
 */
export async function listWebhookEvents(
  db: Db,
  filter: WebhookEventFilter,
  page: { cursor?: WebhookCursor; limit: number },
): Promise<WebhookEventPage> {
  const rows = await db.$queryRaw<EventRow[]>`
    SELECT ${SUMMARY_COLUMNS}
    FROM webhook_events e LEFT JOIN organizations o ON o.id = e.org_id
    ${whereClause(filter, page.cursor)}
    ORDER BY e.received_at DESC, e.id DESC
    LIMIT ${keysetTake(page.limit)}`;
  const { items, nextCursor } = keysetPage(rows, page.limit, (last) => ({ receivedAt: last.received_at, id: last.id }));
  return { items: items.map(toSummary), nextCursor };
}

/** One event with its stored payload; NOT_FOUND for an unknown webhook-id. */
export async function getWebhookEvent(db: Db, id: string): Promise<WebhookEventDetail> {
  const [row] = await db.$queryRaw<EventRow[]>`
    SELECT ${SUMMARY_COLUMNS}, e.payload
    FROM webhook_events e LEFT JOIN organizations o ON o.id = e.org_id
    WHERE e.id = ${id}`;
  if (!row) throw new BillingError("NOT_FOUND", "webhook_event_not_found", `No webhook event ${id}`, { webhookId: id });
  return { ...toSummary(row), payload: row.payload };
}

export type WebhookStatusCounts = Record<WebhookStatus, number>;

/**
 * Events per status among those matching the filter (statuses outside `filter.statuses`
 * count 0). With only `statuses` set this reads just those statuses' entries of the
 * (status, received_at) index, so counting the failures stays cheap however many
 * processed events there are.
 */
export async function countWebhookEvents(db: Db, filter: WebhookEventFilter = {}): Promise<WebhookStatusCounts> {
  const rows = await db.$queryRaw<{ status: string; events: bigint }[]>`
    SELECT e.status, count(*)::bigint AS events FROM webhook_events e
    ${whereClause(filter)}
    GROUP BY e.status`;
  const counts = Object.fromEntries(WEBHOOK_STATUSES.map((s) => [s, 0])) as WebhookStatusCounts;
  for (const row of rows) if (row.status in counts) counts[row.status as WebhookStatus] = Number(row.events);
  return counts;
}
