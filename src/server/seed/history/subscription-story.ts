import { effectivePlan } from "@/server/billing/policy";
import { billingPeriodAt } from "@/server/billing/windows";

import type { Random } from "../prng";
import { DAY_MS, MINUTE_MS, type HistorySpan } from "./clock";
import { policySubscription, type DemoOrg } from "./orgs";
import type { Scenario } from "./scenarios";

/**
 * One org's subscription over the history, as the Dodo webhooks that tell it: a renewal at
 * the end of every period, and the org's scenario (a plan change, a failed payment, a
 * cancellation, a first subscription) where it falls. Planned up front from the starting
 * state; each event carries the subscription as Dodo would send it after the change.
 */

export interface SubscriptionSnapshot {
  id: string;
  productId: string;
  status: string;
  periodStart: number;
  periodEnd: number;
  customerId: string;
  cancelledAt: number | null;
  expiresAt: number | null;
}

export interface PlannedWebhook {
  /** When Dodo sends it: the event's timestamp and the services' clock when it is handled. */
  at: number;
  type: string;
  webhookId: string;
  subscription: SubscriptionSnapshot;
}

/** A failed renewal is retried, then the subscription expires this long after it. */
const EXPIRES_AFTER_MS = 14 * DAY_MS;

/** The period after [start, end): the same length in calendar months, as the services continue one. */
function nextPeriod(start: number, end: number): { periodStart: number; periodEnd: number } {
  const next = billingPeriodAt({ start: new Date(start), end: new Date(end) }, new Date(end));
  return { periodStart: next.start.getTime(), periodEnd: next.end.getTime() };
}

/** One calendar month from `start` (its day is 1–28, so every month has it). */
function monthFrom(start: number): number {
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
}

export function planSubscriptionStory(org: DemoOrg, scenario: Scenario | undefined, span: HistorySpan, random: Random): PlannedWebhook[] {
  const anchor = span.anchor.getTime();
  const customerId = `cus_${random.alphanumeric(24)}`;
  const events: PlannedWebhook[] = [];
  const emit = (at: number, type: string, subscription: SubscriptionSnapshot) => {
    if (at < anchor) events.push({ at, type, webhookId: `msg_${random.alphanumeric(27)}`, subscription });
  };
  // Dodo sends a renewal's webhook a few minutes after the period turns.
  const soonAfter = (at: number) => at + random.int(1, 15) * MINUTE_MS + random.int(0, 59) * 1000;

  const current = policySubscription(org);
  let sub: SubscriptionSnapshot | null = null;
  if (current?.currentPeriodStart && current.currentPeriodEnd) {
    sub = {
      id: current.id,
      productId: current.productId,
      status: current.status,
      periodStart: current.currentPeriodStart.getTime(),
      periodEnd: current.currentPeriodEnd.getTime(),
      customerId: current.customerId ?? customerId,
      cancelledAt: null,
      expiresAt: null,
    };
  }
  if (scenario?.kind === "expire") {
    if (sub) emit(scenario.at, "subscription.expired", { ...sub, status: "expired", expiresAt: scenario.at });
    return events;
  }
  if (scenario?.kind === "upgrade") {
    sub = {
      id: `sub_${random.alphanumeric(24)}`,
      productId: scenario.productId,
      status: "active",
      periodStart: scenario.at,
      periodEnd: monthFrom(scenario.at),
      customerId,
      cancelledAt: null,
      expiresAt: null,
    };
    emit(scenario.at, "subscription.active", sub);
  }
  const renews =
    sub !== null && sub.status === "active" && current !== null && effectivePlan(current, span.start).plan.dodoProductId !== null;
  if (!sub || (!renews && scenario?.kind !== "upgrade")) return events;

  let pending = scenario?.kind === "upgrade" ? undefined : scenario;
  for (;;) {
    const end: number = sub.periodEnd;
    if (pending && (pending.kind === "plan_change" || pending.kind === "cancel") && pending.at < Math.min(end, anchor)) {
      if (pending.kind === "cancel") {
        emit(pending.at, "subscription.cancelled", { ...sub, status: "cancelled", cancelledAt: pending.at });
        return events;
      }
      sub = { ...sub, productId: pending.productId };
      emit(pending.at, "subscription.plan_changed", sub);
      pending = undefined;
      continue;
    }
    const renewedAt = soonAfter(end);
    if (renewedAt >= anchor) return events;
    if (pending && (pending.kind === "lapse" || pending.kind === "recover") && end >= pending.at) {
      if (pending.kind === "lapse" && end + EXPIRES_AFTER_MS + DAY_MS < anchor) {
        sub = { ...sub, status: "on_hold" };
        emit(renewedAt, "subscription.on_hold", sub);
        const expiredAt = soonAfter(end + EXPIRES_AFTER_MS);
        emit(expiredAt, "subscription.expired", { ...sub, status: "expired", expiresAt: expiredAt });
        return events;
      }
      if (pending.kind === "recover" && end + 6 * DAY_MS < anchor) {
        emit(renewedAt, "subscription.on_hold", { ...sub, status: "on_hold" });
        const paidAt = soonAfter(end + random.int(2, 5) * DAY_MS);
        sub = { ...sub, status: "active", ...nextPeriod(sub.periodStart, end) };
        emit(paidAt, "subscription.active", sub);
        pending = undefined;
        continue;
      }
    }
    sub = { ...sub, status: "active", ...nextPeriod(sub.periodStart, end) };
    emit(renewedAt, "subscription.renewed", sub);
  }
}
