import { describe, expect, it } from "vitest";

import type { SubscriptionState } from "@/server/billing/policy";
import { currentWindow } from "@/server/billing/usage-window";

const now = new Date("2026-12-02T10:00:00Z");
const subscription = (status: string, start: string, end: string, updatedAt = "2026-11-15T00:00:00Z"): SubscriptionState => ({
  id: "sub_1",
  productId: "pdt_billing_pro",
  status,
  currentPeriodStart: new Date(start),
  currentPeriodEnd: new Date(end),
  updatedAt: new Date(updatedAt),
});
const iso = (w: { start: Date; end: Date } | null) => w && [w.start.toISOString(), w.end.toISOString()];

describe("the window an org's metric counts in", () => {
  it("a gauge has none", () => {
    expect(currentWindow("members", null, now)).toBeNull();
  });
  it("the free plan: the calendar month (UTC, from the 1st)", () => {
    expect(iso(currentWindow("api_calls", null, now))).toEqual(["2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"]);
  });
  it("an active subscription: its billing period", () => {
    expect(iso(currentWindow("api_calls", subscription("active", "2026-11-15T09:30:00Z", "2026-12-15T09:30:00Z"), now))).toEqual([
      "2026-11-15T09:30:00.000Z",
      "2026-12-15T09:30:00.000Z",
    ]);
  });
  it("past the known period end (renewal not heard of yet): the next period", () => {
    expect(iso(currentWindow("api_calls", subscription("active", "2026-10-15T09:30:00Z", "2026-11-15T09:30:00Z"), now))).toEqual([
      "2026-11-15T09:30:00.000Z",
      "2026-12-15T09:30:00.000Z",
    ]);
  });
  it("cancelled but paid through the period: still the period; after it: the calendar month", () => {
    const cancelled = subscription("cancelled", "2026-11-15T09:30:00Z", "2026-12-15T09:30:00Z");
    expect(iso(currentWindow("api_calls", cancelled, now))?.[0]).toBe("2026-11-15T09:30:00.000Z");
    expect(iso(currentWindow("api_calls", cancelled, new Date("2026-12-20T00:00:00Z")))).toEqual([
      "2026-12-01T00:00:00.000Z",
      "2027-01-01T00:00:00.000Z",
    ]);
  });
  it("in grace: the period; an expired subscription: the calendar month", () => {
    expect(
      iso(
        currentWindow("api_calls", subscription("on_hold", "2026-11-15T09:30:00Z", "2026-12-15T09:30:00Z", "2026-12-01T00:00:00Z"), now),
      )?.[0],
    ).toBe("2026-11-15T09:30:00.000Z");
    expect(iso(currentWindow("api_calls", subscription("expired", "2026-11-15T09:30:00Z", "2026-12-15T09:30:00Z"), now))?.[0]).toBe(
      "2026-12-01T00:00:00.000Z",
    );
  });
});
