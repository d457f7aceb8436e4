import { EVENT_PAYLOAD_VERSION, type BillingEventType } from "./event-types";

/**
 * The JSON body every delivery POSTs, and the payload's wire form. A payload is stored in
 * `billing_events.payload` already in wire form (bigints as decimal strings, dates as ISO-8601
 * UTC), so what is signed is exactly what was recorded, on every attempt and replay.
 */
export interface EventEnvelope {
  /** `evt_…`: also the `webhook-id` header; receivers dedupe on it. */
  id: string;
  type: BillingEventType;
  orgId: string;
  /** ISO-8601, UTC. */
  occurredAt: string;
  version: number;
  data: Record<string, unknown>;
}

/** A value in wire form: bigint → decimal string, Date → ISO-8601 UTC, recursively. */
export function toWire(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, toWire(v)]),
    );
  }
  return value;
}

export interface StoredEvent {
  id: string;
  type: string;
  orgId: string;
  occurredAt: Date;
  payloadVersion: number;
  payload: unknown;
}

export function toEnvelope(event: StoredEvent): EventEnvelope {
  return {
    id: event.id,
    type: event.type as BillingEventType,
    orgId: event.orgId,
    occurredAt: event.occurredAt.toISOString(),
    version: event.payloadVersion ?? EVENT_PAYLOAD_VERSION,
    data: (event.payload ?? {}) as Record<string, unknown>,
  };
}

/** The exact bytes sent (and signed). */
export const envelopeBody = (event: StoredEvent): string => JSON.stringify(toEnvelope(event));
