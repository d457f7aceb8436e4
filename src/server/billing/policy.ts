import type { ResolvedAction } from "./actions";
import { FREE_PLAN, planForProduct, type Feature, type Limit, type LimitKind, type Metric, type Plan } from "./catalogue";
import type { UsageWindow } from "./windows";

/**
 * The policy itself, as pure functions of (plan, subscription, override, usage, now): no
 * I/O, so every rule is table-testable. EntitlementService feeds it and makes it atomic.
 */

export const GRACE_PERIOD_DAYS = 7;
const DAY_MS = 86_400_000;

export const REASON_CODES = [
  "limit_exceeded",
  "soft_limit_exceeded",
  "feature_not_in_plan",
  "subscription_inactive",
  "grace_period",
  "over_limit_after_downgrade",
  "org_not_found",
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface Reason {
  code: ReasonCode;
  message: string;
}

export interface SubscriptionState {
  id: string;
  productId: string;
  status: string;
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
  /** When the subscription last changed (the start of an on_hold grace period). */
  updatedAt: Date;
}

export interface OverrideState {
  kind: LimitKind;
  value: bigint | null;
  expiresAt: Date | null;
}

/** How the subscription shapes the answer: good standing, grace, or lapsed (no increments). */
export type Standing = "good" | "grace" | "lapsed";

export interface EffectivePlan {
  plan: Plan;
  /** The subscription's status, or "none" without one. */
  subscriptionStatus: string;
  standing: Standing;
  graceEndsAt: Date | null;
}

/** Statuses whose plan applies in good standing; the SQL mirrors (effective-limit-sql.ts) read these too. */
export const PAID_STATUS_LIST = ["active", "trialing", "renewed"] as const;
/** Statuses whose plan applies for GRACE_PERIOD_DAYS after the change, then lapses (the plan's limits stay). */
export const GRACE_STATUS_LIST = ["on_hold", "past_due"] as const;
const PAID_STATUSES = new Set<string>(PAID_STATUS_LIST);
const GRACE_STATUSES = new Set<string>(GRACE_STATUS_LIST);

export function effectivePlan(subscription: SubscriptionState | null, now: Date): EffectivePlan {
  if (!subscription) return { plan: FREE_PLAN, subscriptionStatus: "none", standing: "good", graceEndsAt: null };
  const paidPlan = planForProduct(subscription.productId) ?? FREE_PLAN;
  const status = subscription.status;
  // Each answer is one literal (its keys in the order the spread of a shared part gave), not
  // that spread: on the hot path (twice per consume) a spread of a fresh object plus more
  // keys costs ~1 µs on Node 20 (see decide).
  if (PAID_STATUSES.has(status)) return { subscriptionStatus: status, graceEndsAt: null, plan: paidPlan, standing: "good" };
  if (GRACE_STATUSES.has(status)) {
    const graceEndsAt = new Date(subscription.updatedAt.getTime() + GRACE_PERIOD_DAYS * DAY_MS);
    return { subscriptionStatus: status, graceEndsAt, plan: paidPlan, standing: now < graceEndsAt ? "grace" : "lapsed" };
  }
  if (status === "cancelled") {
    const paidThrough = subscription.currentPeriodEnd;
    return {
      subscriptionStatus: status,
      graceEndsAt: null,
      plan: paidThrough && now < paidThrough ? paidPlan : FREE_PLAN,
      standing: "good",
    };
  }
  // expired, failed, pending, or a status we do not know: the free plan.
  return { subscriptionStatus: status, graceEndsAt: null, plan: FREE_PLAN, standing: "good" };
}

/**
 * Whether the org may use `feature` now: the one rule `check` (via `decide`) and the
 * entitlement snapshot both answer from, so they never disagree. A lapsed subscription
 * loses every feature; otherwise the effective plan grants it or not.
 */
export function featureVerdict(effective: EffectivePlan, feature: Feature): "allowed" | "lapsed" | "not_in_plan" {
  if (effective.standing === "lapsed") return "lapsed";
  return effective.plan.features[feature] ? "allowed" : "not_in_plan";
}

export interface EffectiveLimit {
  limit: Limit;
  overridden: boolean;
}

export function effectiveLimit(plan: Plan, metric: Metric, override: OverrideState | undefined, now: Date): EffectiveLimit {
  if (override && (!override.expiresAt || override.expiresAt > now)) {
    const limit: Limit = override.kind === "unlimited" ? "unlimited" : { kind: override.kind, value: override.value ?? 0n };
    return { limit, overridden: true };
  }
  return { limit: plan.limits[metric], overridden: false };
}

/** What is left under a limit (never negative); null when unlimited. */
export function remainingOf(limit: bigint | null, used: bigint): bigint | null {
  return limit === null ? null : limit > used ? limit - used : 0n;
}

/** The figures behind a decision (absent for a feature action). */
export interface DecisionFigures {
  metric?: Metric;
  /** null = unlimited. */
  limit?: bigint | null;
  limitKind?: LimitKind;
  limitOverridden?: boolean;
  used?: bigint;
  /** null = unlimited. */
  remaining?: bigint | null;
  /** The window `used` counts in (period counters only: a gauge has none). */
  windowStart?: Date;
  windowEnd?: Date;
  plan: string;
  subscriptionStatus: string;
}

/** A denial always says why; an allowance may carry a warning (soft limit, grace). */
export type Decision = DecisionFigures & ({ allowed: true; reason?: Reason } | { allowed: false; reason: Reason });

export interface PolicyInput {
  effective: EffectivePlan;
  action: ResolvedAction;
  /** Positive magnitude of the action. */
  amount: bigint;
  used: bigint;
  override?: OverrideState;
  now: Date;
  /** The window `used` counts in, for a period counter. */
  window?: UsageWindow | null;
}

const fmt = (metric: Metric, n: bigint) =>
  `${n.toLocaleString("en-US")} ${metric === "storage_bytes" ? "bytes" : metric.replaceAll("_", " ")}`;

/** A metered decision's figures (`DecisionFigures` less plan and status), every one required. */
interface MetricFigures {
  metric: Metric;
  limit: bigint | null;
  limitKind: LimitKind;
  limitOverridden: boolean;
  used: bigint;
  remaining: bigint | null;
  /** The window `used` counts in (a period counter's); none for a gauge. */
  window: UsageWindow | null | undefined;
}

/**
 * One decision, built as ONE object with its keys always in the same order. Not
 * `{ ...common, ...usage, allowed }`: on Node 20's V8 a spread of a freshly made object
 * followed by more keys costs ~1 µs (a new hidden class each time, and its garbage), and the
 * hot path decides four times per consume — decide() took ~9 µs before, < 1 µs now
 * (test/unit/policy.test.ts, "the shape of a decision", holds each kind of answer to the keys
 * the spreads gave). A denial must say why: the overloads hold callers to it.
 */
function answer(effective: EffectivePlan, figures: MetricFigures | null, allowed: true, reason: Reason | undefined): Decision;
function answer(effective: EffectivePlan, figures: MetricFigures | null, allowed: false, reason: Reason): Decision;
function answer(effective: EffectivePlan, figures: MetricFigures | null, allowed: boolean, reason: Reason | undefined): Decision {
  const decision: Partial<DecisionFigures> & { allowed?: boolean; reason?: Reason } = {
    plan: effective.plan.id,
    subscriptionStatus: effective.subscriptionStatus,
  };
  if (figures) {
    decision.metric = figures.metric;
    decision.limit = figures.limit;
    decision.limitKind = figures.limitKind;
    decision.limitOverridden = figures.limitOverridden;
    decision.used = figures.used;
    decision.remaining = figures.remaining;
    if (figures.window) {
      decision.windowStart = figures.window.start;
      decision.windowEnd = figures.window.end;
    }
  }
  decision.allowed = allowed;
  if (reason) decision.reason = reason;
  return decision as Decision;
}

/** May this action happen now? Never throws: a denial is an answer. */
export function decide(input: PolicyInput): Decision {
  const { effective, action, amount, used, now } = input;
  // Made only when answered (the hot path decides several times per consume, mostly neither).
  const lapsed = (): Reason => ({
    code: "subscription_inactive",
    message: `The subscription is ${effective.subscriptionStatus} and its ${GRACE_PERIOD_DAYS}-day grace period has ended`,
  });
  const grace = (): Reason | undefined =>
    effective.standing === "grace"
      ? {
          code: "grace_period",
          message: `The subscription is ${effective.subscriptionStatus}; allowed during the grace period until ${effective.graceEndsAt?.toISOString()}`,
        }
      : undefined;

  if (action.kind === "feature") {
    const verdict = featureVerdict(effective, action.feature);
    if (verdict === "lapsed") return answer(effective, null, false, lapsed());
    if (verdict === "not_in_plan") {
      return answer(effective, null, false, {
        code: "feature_not_in_plan",
        message: `The ${effective.plan.name} plan does not include ${action.feature}`,
      });
    }
    return answer(effective, null, true, grace());
  }

  const { limit, overridden } = effectiveLimit(effective.plan, action.metric, input.override, now);
  const limitValue = limit === "unlimited" ? null : limit.value;
  const figures: MetricFigures = {
    metric: action.metric,
    limit: limitValue,
    limitKind: limit === "unlimited" ? "unlimited" : limit.kind,
    limitOverridden: overridden,
    used,
    remaining: remainingOf(limitValue, used),
    window: input.window,
  };
  // Freeing usage is always allowed: over limit, lapsed, whatever the plan.
  if (action.direction < 0) return answer(effective, figures, true, undefined);
  if (effective.standing === "lapsed") return answer(effective, figures, false, lapsed());
  if (limit !== "unlimited") {
    const after = used + amount;
    if (after > limit.value) {
      if (limit.kind === "soft") {
        return answer(effective, figures, true, {
          code: "soft_limit_exceeded",
          message: `${fmt(action.metric, after)} exceeds the soft limit of ${fmt(action.metric, limit.value)}`,
        });
      }
      const alreadyOver = used > limit.value;
      return answer(
        effective,
        figures,
        false,
        alreadyOver
          ? {
              code: "over_limit_after_downgrade",
              message: `Already at ${fmt(action.metric, used)}, over the ${effective.plan.name} limit of ${fmt(action.metric, limit.value)}; remove some before adding more`,
            }
          : {
              code: "limit_exceeded",
              message: `${fmt(action.metric, after)} would exceed the limit of ${fmt(action.metric, limit.value)}`,
            },
      );
    }
  }
  return answer(effective, figures, true, grace());
}

/**
 * An action that counts several metrics (actions.ts `also`) is decided per metric; the
 * answer is the binding one: the first that denies, else the one with the least remaining
 * (unlimited is never binding unless all are), the action's own metric on a tie. Its reason,
 * limit, usage and window describe that metric. One decision is returned as it is.
 */
export function bindingDecision(decisions: readonly [Decision, ...Decision[]]): Decision {
  const denied = decisions.find((d) => !d.allowed);
  if (denied) return denied;
  const room = (d: Decision) => d.remaining ?? null;
  return decisions.reduce((binding, d) => {
    const a = room(binding);
    const b = room(d);
    return b !== null && (a === null || b < a) ? d : binding;
  });
}

/**
 * The highest count a limited increment may reach, or null when nothing caps it: the
 * bound the atomic conditional update enforces in the database.
 */
export function hardCap(decision: Decision): bigint | null {
  return decision.limitKind === "hard" ? (decision.limit ?? null) : null;
}
