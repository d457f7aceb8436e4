/**
 * The outgoing event types and delivery statuses, dependency-free so client components (the
 * Events page's filters) and the SDK's contract test can import them. The table's CHECK
 * (billing_events_type, event_deliveries_status) holds the database to the same lists.
 */
export const BILLING_EVENT_TYPES = [
  "usage.threshold_crossed",
  "usage.limit_reached",
  "entitlements.changed",
  "subscription.changed",
  "test.ping",
] as const;
export type BillingEventType = (typeof BILLING_EVENT_TYPES)[number];

/** What an endpoint may subscribe to: every type but `test.ping`, which goes only to the endpoint it tests. */
export const SUBSCRIBABLE_EVENT_TYPES = BILLING_EVENT_TYPES.filter((t): t is Exclude<BillingEventType, "test.ping"> => t !== "test.ping");

export const DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** The envelope's `version`: bumped only when a payload changes incompatibly. */
export const EVENT_PAYLOAD_VERSION = 1;
