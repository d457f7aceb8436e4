import { FEATURES, type Feature, type LimitKind, type Metric } from "./catalogue";
import { effectivePlan, featureVerdict } from "./policy";
import { summarizeUsage, type OrgPolicyContext } from "./policy-context";

/**
 * What a product page shows about an org in one call: its plan and standing, every metric
 * against its limit, every feature of the catalogue. Built from the same context and the same
 * functions as `check` and the usage summary (`summarizeUsage`, `featureVerdict`), so the
 * three never disagree about the same read.
 */
export interface EntitlementSnapshot {
  orgId: string;
  plan: string;
  subscriptionStatus: string;
  /** When the grace period of a past_due / on_hold subscription ends; null when not in grace. */
  graceEndsAt: Date | null;
  metrics: {
    metric: Metric;
    used: bigint;
    /** null: unlimited. */
    limit: bigint | null;
    limitKind: LimitKind;
    /** null: unlimited. */
    remaining: bigint | null;
    /** A limit override replaces the plan's limit. */
    overridden: boolean;
    /** The window a period counter's usage is in, [start, end); null for a gauge. */
    windowStart: Date | null;
    windowEnd: Date | null;
    lastUpdated: Date | null;
  }[];
  /** Every feature of the catalogue: enabled exactly when `check` would allow `feature.<name>`. */
  features: { feature: Feature; enabled: boolean }[];
  /** The server's clock time the snapshot was read at (what windows and grace are judged against). */
  asOf: Date;
}

export function entitlementSnapshot(context: OrgPolicyContext, now: Date): EntitlementSnapshot {
  const effective = effectivePlan(context.subscription, now);
  const summary = summarizeUsage(context, now);
  return {
    orgId: summary.orgId,
    plan: summary.plan,
    subscriptionStatus: summary.subscriptionStatus,
    graceEndsAt: effective.standing === "grace" ? effective.graceEndsAt : null,
    metrics: summary.metrics.map((m) => ({
      metric: m.metric,
      used: m.count,
      limit: m.limit,
      limitKind: m.limitKind,
      remaining: m.remaining,
      overridden: m.limitOverridden,
      windowStart: m.windowStart,
      windowEnd: m.windowEnd,
      lastUpdated: m.lastUpdated,
    })),
    features: FEATURES.map((feature) => ({ feature, enabled: featureVerdict(effective, feature) === "allowed" })),
    asOf: now,
  };
}
