export {
  BILLING_EVENT_TYPES,
  SUBSCRIBABLE_EVENT_TYPES,
  DELIVERY_STATUSES,
  type BillingEventType,
  type DeliveryStatus,
} from "./event-types";
export { toEnvelope, envelopeBody, toWire, type EventEnvelope } from "./envelope";
export { insertEvent, type NewEvent } from "./insert-event";
export { watchEntitlements } from "./entitlement-events";
export { watchSubscription } from "./subscription-events";
export { deliverEvents, countPending, leaseMs, type DeliverOptions, type DeliverResult } from "./deliverer";
export { fanOutEvents } from "./fan-out";
export { startEventDelivery, type EventDeliveryHandle } from "./interval";
export { RETRY_DELAYS_MS, MAX_ATTEMPTS } from "./retry-schedule";
