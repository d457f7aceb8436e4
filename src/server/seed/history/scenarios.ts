import { METRIC_KIND, METRICS, planForProduct, PLANS, type Metric, type Plan } from "@/server/billing/catalogue";
import { effectiveLimit, effectivePlan } from "@/server/billing/policy";

import type { Random } from "../prng";
import { DAY_MS, type HistorySpan } from "./clock";
import { policySubscription, type DemoOrg } from "./orgs";
import { historyRandom, shuffled } from "./random";

/**
 * Which orgs' subscriptions do something other than renew each month, and when: the plan
 * changes, lapses and cancellations the demo shows. A few of each, drawn at random among the
 * orgs they fit, and at least one downgrade that leaves an org over a hard limit, one lapse
 * and one upgrade whenever some org fits them, so every history has them to look at.
 */
export type Scenario =
  /** A free org subscribes to a paid plan. */
  | { kind: "upgrade"; at: number; productId: string }
  /** A paid org changes plan; `overMetric`: a downgrade that leaves it over that hard limit. */
  | { kind: "plan_change"; at: number; productId: string; overMetric: Metric | null }
  /** The first renewal after `at` fails: on hold, and expired two weeks later. */
  | { kind: "lapse"; at: number }
  /** The first renewal after `at` fails, and the payment goes through within the grace period. */
  | { kind: "recover"; at: number }
  /** Cancelled at `at`: paid through the period, then the free plan. */
  | { kind: "cancel"; at: number }
  /** A subscription the seed left on hold (lapsed long ago) finally expires. */
  | { kind: "expire"; at: number };

const PAID_PLANS = PLANS.filter((plan) => plan.dodoProductId !== null);
const GAUGES = METRICS.filter((metric) => METRIC_KIND[metric] === "gauge");

/** A whole second in [from, until). */
export function timeBetween(random: Random, from: number, until: number): number {
  return from + Math.floor((random.next() * Math.max(0, until - from)) / 1000) * 1000;
}

/**
 * The cheaper paid plan an org could move to that puts one of its gauges over a hard limit
 * (the most expensive such plan: the likeliest downgrade), or null.
 */
function overLimitDowngrade(org: DemoOrg, plan: Plan, at: Date): { target: Plan; metric: Metric } | null {
  const cheaper = PAID_PLANS.slice(0, PAID_PLANS.indexOf(plan)).reverse();
  for (const target of cheaper) {
    for (const metric of GAUGES) {
      const { limit } = effectiveLimit(target, metric, undefined, at);
      if (limit !== "unlimited" && limit.kind === "hard" && (org.counts.get(metric) ?? 0n) > limit.value) return { target, metric };
    }
  }
  return null;
}

export function assignScenarios(orgs: readonly DemoOrg[], span: HistorySpan, seed: number): Map<number, Scenario> {
  const random = historyRandom(seed, "scenarios", 0);
  const start = span.start.getTime();
  const anchor = span.anchor.getTime();
  const scenarios = new Map<number, Scenario>();
  const paidPlanOf = new Map<number, Plan>();
  const free: DemoOrg[] = [];
  for (const org of orgs) {
    const subscription = policySubscription(org);
    if (subscription?.status === "on_hold") {
      scenarios.set(org.index, { kind: "expire", at: timeBetween(random, start + DAY_MS, start + 30 * DAY_MS) });
      continue;
    }
    const plan = effectivePlan(subscription, span.start).plan;
    if (subscription?.status === "active" && plan.dodoProductId !== null) paidPlanOf.set(org.index, plan);
    else if (!subscription || subscription.status === "expired" || subscription.status === "failed") free.push(org);
  }
  const paid = orgs.filter((org) => paidPlanOf.has(org.index));
  const take = (candidates: readonly DemoOrg[], count: number) =>
    shuffled(
      random,
      candidates.filter((org) => !scenarios.has(org.index)),
    ).slice(0, count);
  const share = (of: number, fraction: number, atLeast = 0) => Math.max(atLeast, Math.round(of * fraction));

  const downgradable = paid.flatMap((org) => {
    const move = overLimitDowngrade(org, paidPlanOf.get(org.index) as Plan, span.start);
    return move ? [{ org, move }] : [];
  });
  for (const org of take(
    downgradable.map((d) => d.org),
    share(paid.length, 0.03, 1),
  )) {
    const { target, metric } = downgradable.find((d) => d.org === org)?.move as { target: Plan; metric: Metric };
    const at = timeBetween(random, start + 3 * DAY_MS, anchor - 21 * DAY_MS);
    scenarios.set(org.index, { kind: "plan_change", at, productId: target.dodoProductId as string, overMetric: metric });
  }
  // A failed renewal needs one early enough for the expiry (two weeks on) to fall inside.
  for (const org of take(paid, share(paid.length, 0.03, 1))) {
    scenarios.set(org.index, { kind: "lapse", at: timeBetween(random, start, anchor - 50 * DAY_MS) });
  }
  for (const org of take(paid, share(paid.length, 0.02))) {
    scenarios.set(org.index, { kind: "recover", at: timeBetween(random, start, anchor - 40 * DAY_MS) });
  }
  for (const org of take(paid, share(paid.length, 0.03))) {
    scenarios.set(org.index, { kind: "cancel", at: timeBetween(random, start + 3 * DAY_MS, anchor - 3 * DAY_MS) });
  }
  const upgradable = paid.filter((org) => PAID_PLANS.indexOf(paidPlanOf.get(org.index) as Plan) < PAID_PLANS.length - 1);
  for (const org of take(upgradable, share(upgradable.length, 0.08))) {
    const next = PAID_PLANS[PAID_PLANS.indexOf(paidPlanOf.get(org.index) as Plan) + 1] as Plan;
    const at = timeBetween(random, start + 3 * DAY_MS, anchor - 3 * DAY_MS);
    scenarios.set(org.index, { kind: "plan_change", at, productId: next.dodoProductId as string, overMetric: null });
  }
  for (const org of take(free, share(free.length, 0.08, 1))) {
    scenarios.set(org.index, { kind: "upgrade", at: upgradeTime(random, start, anchor), productId: upgradeProduct(org) });
  }
  return scenarios;
}

/** A time to subscribe: on days 1–28, so the monthly period has the same day every month. */
function upgradeTime(random: Random, start: number, anchor: number): number {
  const at = timeBetween(random, start + 3 * DAY_MS, anchor - 7 * DAY_MS);
  const day = new Date(at).getUTCDate();
  return day <= 28 ? at : at - (day - 28) * DAY_MS;
}

/** The cheapest paid plan whose hard limits the org's gauges fit (else the biggest). */
function upgradeProduct(org: DemoOrg): string {
  const fits = PAID_PLANS.find((plan) =>
    GAUGES.every((metric) => {
      const { limit } = effectiveLimit(plan, metric, undefined, new Date(0));
      return limit === "unlimited" || limit.kind === "soft" || (org.counts.get(metric) ?? 0n) <= limit.value;
    }),
  );
  return ((fits ?? PAID_PLANS[PAID_PLANS.length - 1]) as Plan).dodoProductId as string;
}

/** The plan of a Dodo product, for the summary. */
export function planName(productId: string): string {
  return planForProduct(productId)?.id ?? productId;
}
