import { z } from "zod";

import { Prisma, type PrismaClient } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { recordAudit } from "../audit-log";
import { BillingError, parseInput } from "../errors";
import { keysetPage, keysetTake, type KeysetPage } from "../keyset-page";
import { orgIdSchema } from "../schemas";
import { toEnvelope, type EventEnvelope } from "./envelope";
import { BILLING_EVENT_TYPES, DELIVERY_STATUSES } from "./event-types";

/**
 * Staff reads of event deliveries (newest first, keyset pages on (created_at, id)), one
 * delivery with its attempts and its event, and the admin's replay: a delivered or failed
 * delivery back to pending, due now, with the same webhook-id (the event's id).
 */

export const deliveryFilterSchema = z
  .object({
    endpointId: z.uuid().optional(),
    type: z.enum(BILLING_EVENT_TYPES).optional(),
    status: z.enum(DELIVERY_STATUSES).optional(),
    orgId: orgIdSchema.optional(),
    /** Created at or after, UTC. */
    from: z.date().optional(),
    /** Created before (exclusive), UTC. */
    to: z.date().optional(),
  })
  .refine((f) => !f.from || !f.to || f.from < f.to, { path: ["to"], message: "must be after from" });
export type DeliveryFilter = z.infer<typeof deliveryFilterSchema>;

export const deliveryCursorSchema = z.object({ createdAt: z.date(), id: z.uuid() });
export type DeliveryCursor = z.infer<typeof deliveryCursorSchema>;

export interface DeliverySummary {
  id: string;
  eventId: string;
  eventType: string;
  orgId: string;
  endpointId: string;
  endpointUrl: string;
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  deliveredAt: Date | null;
  responseStatus: number | null;
  lastError: string | null;
  createdAt: Date;
}

export interface DeliveryDetail extends DeliverySummary {
  responseBody: string | null;
  /** The body every attempt sends (and signs). */
  envelope: EventEnvelope;
  history: {
    attempt: number;
    attemptedAt: Date;
    durationMs: number;
    responseStatus: number | null;
    responseBody: string | null;
    error: string | null;
  }[];
}

interface Row {
  id: string;
  event_id: string;
  event_type: string;
  org_id: string;
  endpoint_id: string;
  endpoint_url: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  response_status: number | null;
  last_error: string | null;
  created_at: Date;
}

const summary = (r: Row): DeliverySummary => ({
  id: r.id,
  eventId: r.event_id,
  eventType: r.event_type,
  orgId: r.org_id,
  endpointId: r.endpoint_id,
  endpointUrl: r.endpoint_url,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastAttemptAt: r.last_attempt_at,
  deliveredAt: r.delivered_at,
  responseStatus: r.response_status,
  lastError: r.last_error,
  createdAt: r.created_at,
});

export async function listDeliveries(
  db: Db,
  filter: DeliveryFilter,
  page: { cursor?: DeliveryCursor; limit: number },
): Promise<KeysetPage<DeliverySummary, DeliveryCursor>> {
  const f = parseInput(deliveryFilterSchema, filter);
  const where: Prisma.Sql[] = [];
  if (f.endpointId) where.push(Prisma.sql`d.endpoint_id = ${f.endpointId}::uuid`);
  if (f.type) where.push(Prisma.sql`d.event_type = ${f.type}`);
  if (f.status) where.push(Prisma.sql`d.status = ${f.status}`);
  if (f.orgId) where.push(Prisma.sql`d.org_id = ${f.orgId}::uuid`);
  if (f.from) where.push(Prisma.sql`d.created_at >= ${f.from}`);
  if (f.to) where.push(Prisma.sql`d.created_at < ${f.to}`);
  if (page.cursor) where.push(Prisma.sql`(d.created_at, d.id) < (${page.cursor.createdAt}, ${page.cursor.id}::uuid)`);
  const rows = await db.$queryRaw<Row[]>`
    SELECT d.id::text, d.event_id, d.event_type, d.org_id::text, d.endpoint_id::text, w.url AS endpoint_url, d.status, d.attempts,
           d.next_attempt_at, d.last_attempt_at, d.delivered_at, d.response_status, d.last_error, d.created_at
    FROM event_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
    ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, " AND ")}` : Prisma.empty}
    ORDER BY d.created_at DESC, d.id DESC
    LIMIT ${keysetTake(page.limit)}`;
  const { items, nextCursor } = keysetPage(rows, page.limit, (last) => ({ createdAt: last.created_at, id: last.id }));
  return { items: items.map(summary), nextCursor };
}

export async function getDelivery(db: Db, id: string): Promise<DeliveryDetail> {
  const deliveryId = parseInput(z.uuid(), id);
  const row = await db.eventDelivery.findUnique({
    where: { id: deliveryId },
    include: { event: true, endpoint: { select: { url: true } }, history: { orderBy: { attempt: "asc" } } },
  });
  if (!row) throw new BillingError("NOT_FOUND", "delivery_not_found", `Delivery ${deliveryId} does not exist`);
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    orgId: row.orgId,
    endpointId: row.endpointId,
    endpointUrl: row.endpoint.url,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastAttemptAt: row.lastAttemptAt,
    deliveredAt: row.deliveredAt,
    responseStatus: row.responseStatus,
    lastError: row.lastError,
    createdAt: row.createdAt,
    responseBody: row.responseBody,
    envelope: toEnvelope(row.event),
    history: row.history.map((a) => ({
      attempt: a.attempt,
      attemptedAt: a.attemptedAt,
      durationMs: a.durationMs,
      responseStatus: a.responseStatus,
      responseBody: a.responseBody,
      error: a.error,
    })),
  };
}

/**
 * An admin sends a delivered or failed delivery again: pending and due now, same event (same
 * webhook-id, receivers dedupe). A pending one is refused (CONFLICT): it is on its way already.
 */
export async function replayDeliveryAsStaff(client: PrismaClient, id: string, actor: string): Promise<DeliveryDetail> {
  const deliveryId = parseInput(z.uuid(), id);
  return client.$transaction(async (tx) => {
    const before = await getDelivery(tx, deliveryId);
    const changed = await tx.$executeRaw`
      UPDATE event_deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now()
      WHERE id = ${deliveryId}::uuid AND status IN ('delivered', 'failed')`;
    if (changed === 0) {
      throw new BillingError(
        "CONFLICT",
        "delivery_pending",
        `Delivery ${deliveryId} is pending already: it will be sent at ${before.nextAttemptAt.toISOString()}`,
      );
    }
    const after = await getDelivery(tx, deliveryId);
    await recordAudit(tx, {
      actor,
      action: "event_delivery.replay",
      target: { type: "event_delivery", id: deliveryId },
      before: { status: before.status, attempts: before.attempts },
      after: { status: after.status, nextAttemptAt: after.nextAttemptAt },
    });
    return after;
  });
}
