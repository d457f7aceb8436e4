import { randomBytes } from "node:crypto";

/**
 * Dodo-shaped payloads for the fake server and the tests: a subscription object as Dodo's
 * API returns it (`SubscriptionResponse`, with fields billing does not read, so lenient
 * parsing is exercised) and the webhook envelope `{ business_id, type, timestamp, data }`.
 */

export type Metadata = Record<string, string | number | boolean>;

export interface DodoSubscription {
  subscription_id: string;
  product_id: string;
  status: string;
  quantity: number;
  customer: { customer_id: string; email: string; name: string; metadata: Metadata; phone_number: string | null };
  metadata: Metadata;
  previous_billing_date: string;
  next_billing_date: string;
  cancel_at_next_billing_date: boolean;
  cancelled_at: string | null;
  expires_at: string | null;
  [field: string]: unknown;
}

export const fakeId = (prefix: string) => `${prefix}_${randomBytes(9).toString("base64url")}`;

const DAY = 86_400_000;

export interface SubscriptionInit extends Partial<Omit<DodoSubscription, "customer">> {
  customer?: Partial<DodoSubscription["customer"]>;
  /** Shorthand: put `org_id` into the subscription's metadata. */
  orgId?: string;
  /** Shorthand: the billing period [start, end). */
  periodStart?: Date;
  periodEnd?: Date;
}

export function subscriptionPayload(init: SubscriptionInit = {}): DodoSubscription {
  const { orgId, periodStart, periodEnd, customer, ...rest } = init;
  const start = periodStart ?? new Date(Date.now() - DAY);
  const end = periodEnd ?? new Date(start.getTime() + 30 * DAY);
  return {
    addons: [],
    billing: { city: "New York", country: "US", state: "New York", street: "11th Main", zipcode: "08002" },
    brand_id: "brd_fake",
    cancellation_comment: null,
    cancellation_feedback: null,
    created_at: new Date(start.getTime() - DAY).toISOString(),
    credit_entitlement_cart: [],
    currency: "USD",
    custom_field_responses: null,
    discount_cycles_remaining: null,
    discount_id: null,
    discounts: null,
    meter_credit_entitlement_cart: [],
    meters: [],
    on_demand: false,
    paused_at: null,
    payment_frequency_count: 1,
    payment_frequency_interval: "Month",
    payment_method_id: null,
    recurring_pre_tax_amount: 4900,
    scheduled_change: null,
    subscription_period_count: 10,
    subscription_period_interval: "Year",
    tax_id: null,
    tax_inclusive: false,
    trial_amount: null,
    trial_period_days: 0,
    subscription_id: fakeId("sub"),
    product_id: "pdt_billing_pro",
    status: "active",
    quantity: 1,
    previous_billing_date: start.toISOString(),
    next_billing_date: end.toISOString(),
    cancel_at_next_billing_date: false,
    cancelled_at: null,
    expires_at: null,
    ...rest,
    ...(periodStart ? { previous_billing_date: start.toISOString() } : {}),
    ...(periodStart || periodEnd ? { next_billing_date: end.toISOString() } : {}),
    metadata: { ...(rest.metadata ?? {}), ...(orgId ? { org_id: orgId } : {}) },
    customer: {
      customer_id: fakeId("cus"),
      email: "billing@example.com",
      name: "Example customer",
      metadata: {},
      phone_number: null,
      ...customer,
    },
  };
}

export interface WebhookPayload {
  business_id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** A webhook envelope carrying an object's state at `timestamp`. */
export function webhookPayload(type: string, data: object, timestamp: Date = new Date()): WebhookPayload {
  const payloadType = type.split(".")[0] === "subscription" ? "Subscription" : "Other";
  return { business_id: "bus_fake", type, timestamp: timestamp.toISOString(), data: { payload_type: payloadType, ...data } };
}
