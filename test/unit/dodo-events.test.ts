import { describe, expect, it } from "vitest";

import { parseDelivery, subscriptionDataSchema } from "@/server/billing/dodo/events";

import { subscriptionPayload, webhookPayload } from "../../tools";

describe("Dodo event parsing is lenient", () => {
  it("keeps unknown fields and accepts nulls where Dodo sends them", () => {
    const data = {
      ...subscriptionPayload(),
      quantity: null,
      cancelled_at: null,
      expires_at: null,
      cancel_at_next_billing_date: null,
      metadata: null,
      brand_new_field: { nested: [1, 2] },
      customer: { customer_id: "cus_1", email: null, name: null, metadata: null, phone_number: null },
    };
    const parsed = subscriptionDataSchema.parse(data);
    expect(parsed.customer.customer_id).toBe("cus_1");
    expect(parsed).toMatchObject({ brand_new_field: { nested: [1, 2] }, quantity: null });
    expect(parsed.previous_billing_date).toBeInstanceOf(Date);
  });

  it("accepts microsecond timestamps (Dodo's format)", () => {
    const body = JSON.stringify({
      ...webhookPayload("subscription.active", subscriptionPayload()),
      timestamp: "2025-08-04T05:45:31.736731Z",
    });
    const parsed = parseDelivery(body);
    expect(parsed.kind).toBe("event");
    if (parsed.kind === "event") expect(parsed.envelope.timestamp.toISOString()).toBe("2025-08-04T05:45:31.736Z");
  });

  it("reports what is wrong with zod issue paths, never throws", () => {
    expect(parseDelivery("{")).toMatchObject({ kind: "invalid_json" });
    expect(parseDelivery(JSON.stringify({ type: "subscription.active", timestamp: "yesterday" }))).toMatchObject({
      kind: "invalid_envelope",
      type: "subscription.active",
      error: expect.stringContaining("timestamp"),
    });
    const missing = subscriptionDataSchema.safeParse({ ...subscriptionPayload(), customer: {} });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0]?.path).toEqual(["customer", "customer_id"]);
  });
});
