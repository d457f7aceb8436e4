import type { PrismaClient } from "@/server/db/client";

/**
 * The deliverer's first step: events not yet dispatched become one `event_deliveries` row per
 * enabled endpoint subscribed to their type, and are marked dispatched — one statement, so one
 * transaction. Several deliverers may run it at once: `FOR UPDATE SKIP LOCKED` gives each a
 * disjoint set of events, and the unique (event, endpoint) key makes a repeat a no-op.
 * `test.ping` is never fanned out (it is written with its one delivery, see endpoints.ts).
 * An event that finds no endpoint is dispatched with no delivery: endpoints receive events
 * from their creation on.
 */
export async function fanOutEvents(
  prisma: PrismaClient,
  options: { batchSize?: number; orgId?: string } = {},
): Promise<{ events: number; deliveries: number }> {
  const orgId = options.orgId ?? null;
  const [row] = await prisma.$queryRaw<{ events: bigint; deliveries: bigint }[]>`
    WITH batch AS (
      SELECT id, type, org_id FROM billing_events
      WHERE dispatched_at IS NULL AND (${orgId}::uuid IS NULL OR org_id = ${orgId}::uuid)
      ORDER BY seq LIMIT ${options.batchSize ?? 500}
      FOR UPDATE SKIP LOCKED),
    inserted AS (
      INSERT INTO event_deliveries (event_id, endpoint_id, org_id, event_type)
      SELECT b.id, w.id, b.org_id, b.type FROM batch b
      JOIN webhook_endpoints w ON w.enabled AND b.type = ANY(w.event_types)
      WHERE b.type <> 'test.ping'
      ON CONFLICT (event_id, endpoint_id) DO NOTHING
      RETURNING 1),
    dispatched AS (
      UPDATE billing_events SET dispatched_at = now() WHERE id IN (SELECT id FROM batch) RETURNING 1)
    SELECT (SELECT count(*) FROM dispatched) AS events, (SELECT count(*) FROM inserted) AS deliveries`;
  return { events: Number(row?.events ?? 0), deliveries: Number(row?.deliveries ?? 0) };
}
