import type { Metric } from "./catalogue";
import { metricDefinition } from "./metrics";
import { effectivePlan, type SubscriptionState } from "./policy";
import { billingPeriodAt, calendarWindowAt, type UsageWindow } from "./windows";

/**
 * The window an org's period metric counts in at `now` — the one rule the usage writes (a
 * count whose window is over starts again), the policy and every page share.
 *
 * A `billing_period` metric counts in the billing period of the subscription whose plan the
 * org is on (active, in grace, or cancelled but paid through the period; continued past the
 * known period end until the renewal is heard of). An org on the free plan — no subscription,
 * a lapsed or an expired one — counts in calendar months on the metric's fallback anchor day
 * and zone (the 1st, UTC, by default). When an org moves between the two, its window moves
 * with it (a lapse on the 20th starts the calendar month of the 1st: usage since then counts).
 * A gauge has no window (null).
 */
export function currentWindow(metric: Metric, subscription: SubscriptionState | null, now: Date): UsageWindow | null {
  const definition = metricDefinition(metric);
  if (definition.kind === "gauge") return null;
  const window = definition.window;
  if (window.kind === "calendar") return calendarWindowAt(window, now);
  const paid = subscription && effectivePlan(subscription, now).plan.dodoProductId !== null;
  if (
    paid &&
    subscription.currentPeriodStart &&
    subscription.currentPeriodEnd &&
    subscription.currentPeriodStart < subscription.currentPeriodEnd
  ) {
    return billingPeriodAt({ start: subscription.currentPeriodStart, end: subscription.currentPeriodEnd }, now);
  }
  return calendarWindowAt({ unit: "month", ...window.fallback }, now);
}

/** Whether a metric's window depends on the org's subscription (a billing-period counter). */
export function windowFollowsSubscription(metric: Metric): boolean {
  const definition = metricDefinition(metric);
  return definition.kind === "period_counter" && definition.window.kind === "billing_period";
}
