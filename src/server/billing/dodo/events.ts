import { z } from "zod";

/**
 * Dodo webhook payloads, parsed leniently: objects keep unknown fields (`.loose()`), nulls
 * are accepted wherever Dodo may send them, and only the fields billing uses are validated.
 * Field names follow Dodo's public API (`SubscriptionResponse`, webhook envelopes
 * `{ business_id, type, timestamp, data }`).
 */

const dateTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), "must be an ISO 8601 date-time")
  .transform((s) => new Date(s));

const metadataSchema = z.record(z.string(), z.unknown()).nullish();

/** Every webhook: the envelope. `data` is checked per event type. */
export const webhookEnvelopeSchema = z
  .object({
    business_id: z.string().nullish(),
    type: z.string().min(1),
    timestamp: dateTime,
    data: z.unknown(),
  })
  .loose();
export type WebhookEnvelope = z.infer<typeof webhookEnvelopeSchema>;

/** The subscription object as billing reads it (a subset of Dodo's SubscriptionResponse). */
export const subscriptionDataSchema = z
  .object({
    subscription_id: z.string().min(1),
    product_id: z.string().min(1),
    status: z.string().min(1),
    quantity: z.number().int().nullish(),
    customer: z
      .object({
        customer_id: z.string().min(1),
        metadata: metadataSchema,
      })
      .loose(),
    metadata: metadataSchema,
    previous_billing_date: dateTime.nullish(),
    next_billing_date: dateTime.nullish(),
    cancel_at_next_billing_date: z.boolean().nullish(),
    cancelled_at: dateTime.nullish(),
    expires_at: dateTime.nullish(),
  })
  .loose();
export type SubscriptionData = z.infer<typeof subscriptionDataSchema>;

/** A subscription event: state, not a delta. `timestamp` orders events of one subscription. */
export interface SubscriptionEvent {
  /** The webhook-id (or another unique id of the source, e.g. `reconcile:<sub>:<time>`). */
  id: string;
  type: string;
  timestamp: Date;
  /** Dodo's subscription object (a webhook's `data`, or the API's subscription); parsed leniently. */
  data: unknown;
}

/** Every `subscription.*` event carries the subscription's state and is synced. */
export const isSubscriptionEventType = (type: string): boolean => type.startsWith("subscription.");

/** The subscription statuses Dodo documents (others may appear; they are stored as sent). */
export const SUBSCRIPTION_STATUSES = ["pending", "active", "on_hold", "paused", "cancelled", "failed", "expired"] as const;

/** A zod error as one line of `path: message` pairs, for the stored event's `error`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

export type ParsedDelivery =
  | { kind: "invalid_json"; error: string }
  | { kind: "invalid_envelope"; payload: unknown; type: string; error: string }
  | { kind: "event"; payload: unknown; envelope: WebhookEnvelope };

/** Parses a verified raw body. Never throws: a bad body is a result, stored for staff. */
export function parseDelivery(rawBody: string): ParsedDelivery {
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody);
  } catch (error) {
    return { kind: "invalid_json", error: `body is not JSON: ${(error as Error).message}` };
  }
  const envelope = webhookEnvelopeSchema.safeParse(payload);
  if (!envelope.success) {
    const rawType = (payload as { type?: unknown } | null)?.type;
    return {
      kind: "invalid_envelope",
      payload,
      type: typeof rawType === "string" && rawType ? rawType : "unknown",
      error: `invalid webhook envelope: ${describeIssues(envelope.error)}`,
    };
  }
  return { kind: "event", payload, envelope: envelope.data };
}
