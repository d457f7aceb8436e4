import type { ClaimedRow } from "./outbox-claims";

/** What Dodo's ingest endpoint takes and allows: the event shape, its limits, and a claimed row as an event. */

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

/** A claimed outbox row as Dodo's event: its `event_id` is the ledger id, so a row sent twice counts once. */
export function toEvent(row: ClaimedRow): IngestEvent {
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
