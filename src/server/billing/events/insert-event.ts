import { Prisma } from "@/server/db/client";
import { viaPrisma, type RawQuery } from "@/server/db/raw-query";
import type { Db } from "@/server/db/tx";

import { toWire } from "./envelope";
import { EVENT_PAYLOAD_VERSION, type BillingEventType } from "./event-types";

export interface NewEvent {
  type: BillingEventType;
  orgId: string;
  /** Any value; stored in wire form (see envelope.ts). */
  payload: Record<string, unknown>;
  /** At most one event per (org, dedupeKey): a second insert does nothing. */
  dedupeKey?: string;
  occurredAt?: Date;
}

/**
 * Inserts an event into the outbox (`billing_events`) — call it inside the transaction of the
 * change it announces, so the event exists if and only if the change committed. Returns the
 * event id, or null when `dedupeKey` was already taken for the org (nothing written).
 * Accepts a Prisma client/transaction or a `RawQuery` (the pool path).
 */
export async function insertEvent(db: Db | RawQuery, event: NewEvent): Promise<string | null> {
  const run: RawQuery = typeof db === "function" ? db : viaPrisma(db);
  const payload = JSON.stringify(toWire(event.payload));
  const rows = await run<{ id: string }>(Prisma.sql`
    INSERT INTO billing_events (type, org_id, occurred_at, payload_version, payload, dedupe_key)
    VALUES (${event.type}, ${event.orgId}::uuid, ${event.occurredAt ?? new Date()}::timestamptz, ${EVENT_PAYLOAD_VERSION},
            ${payload}::jsonb, ${event.dedupeKey ?? null})
    ON CONFLICT (org_id, dedupe_key) DO NOTHING
    RETURNING id`);
  return rows[0]?.id ?? null;
}
