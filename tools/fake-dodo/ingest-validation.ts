import { HttpError } from "./http";

/** Dodo's rules for `POST /events/ingest`, as the fake enforces them: what a request may hold, and when it is refused. */

export interface IngestedEvent {
  event_id: string;
  customer_id: string;
  event_name: string;
  timestamp: string;
  metadata: Record<string, string | number | boolean> | null;
  received_at: string;
}

export const MAX_INGEST_EVENTS = 1000;
const HOUR = 3_600_000;
const FUTURE_TOLERANCE = 5 * 60_000;

const isPrimitive = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/** Validates an ingest request against Dodo's rules; returns the events to store. */
export function validateIngest(body: unknown, now: Date): Omit<IngestedEvent, "received_at">[] {
  const events = (body as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) throw new HttpError(422, { code: "INVALID_REQUEST_BODY", message: "events: expected an array" });
  if (events.length < 1 || events.length > MAX_INGEST_EVENTS) {
    throw new HttpError(422, {
      code: "INVALID_REQUEST_BODY",
      message: `events: between 1 and ${MAX_INGEST_EVENTS} events, got ${events.length}`,
    });
  }
  const seen = new Set<string>();
  const failed: { event_id: string; error: string }[] = [];
  const out: Omit<IngestedEvent, "received_at">[] = [];
  events.forEach((raw: unknown, index) => {
    const e = (raw ?? {}) as Record<string, unknown>;
    for (const field of ["event_id", "customer_id", "event_name"]) {
      if (typeof e[field] !== "string" || !(e[field] as string)) {
        throw new HttpError(422, { code: "INVALID_REQUEST_BODY", message: `events[${index}].${field}: expected a non-empty string` });
      }
    }
    const id = e.event_id as string;
    if (seen.has(id)) throw new HttpError(422, { code: "DUPLICATE_EVENT_ID", message: `duplicate event_id ${id} in the request` });
    seen.add(id);
    const metadata = e.metadata ?? null;
    if (metadata !== null && (typeof metadata !== "object" || Array.isArray(metadata) || !Object.values(metadata).every(isPrimitive))) {
      throw new HttpError(422, {
        code: "INVALID_REQUEST_BODY",
        message: `events[${index}].metadata: only key-value pairs of strings, numbers, booleans`,
      });
    }
    let timestamp = now;
    if (e.timestamp !== undefined && e.timestamp !== null) {
      const parsed = typeof e.timestamp === "string" ? new Date(e.timestamp) : new Date(Number.NaN);
      if (Number.isNaN(parsed.getTime())) {
        throw new HttpError(422, { code: "INVALID_REQUEST_BODY", message: `events[${index}].timestamp: expected a date-time` });
      }
      if (now.getTime() - parsed.getTime() > HOUR) failed.push({ event_id: id, error: "timestamp is older than 1 hour" });
      else if (parsed.getTime() - now.getTime() > FUTURE_TOLERANCE)
        failed.push({ event_id: id, error: "timestamp is more than 5 minutes in the future" });
      timestamp = parsed;
    }
    out.push({
      event_id: id,
      customer_id: e.customer_id as string,
      event_name: e.event_name as string,
      timestamp: timestamp.toISOString(),
      metadata: metadata as IngestedEvent["metadata"],
    });
  });
  if (failed.length)
    throw new HttpError(400, { code: "INVALID_TIMESTAMP", message: "events with timestamps outside the window", failed_events: failed });
  return out;
}
