/**
 * The billing service's names, as string-literal unions the product app can switch on. They
 * mirror the server's catalogue; the repository's test `client-package-contract` fails when
 * the two drift apart, so a new metric or reason code cannot ship without its type.
 */

export const METRICS = ["members", "teams", "storage_bytes", "api_calls", "api_calls_hourly", "ai_requests", "exports"] as const;
export type Metric = (typeof METRICS)[number];

export const FEATURES = ["sso", "audit_log_export", "custom_roles", "priority_support", "api_access"] as const;
export type Feature = (typeof FEATURES)[number];

export const METERED_ACTIONS = [
  "member.add",
  "member.remove",
  "team.create",
  "team.delete",
  "file.upload",
  "file.delete",
  "api.call",
  "ai.request",
  "export.create",
] as const;
export type MeteredAction = (typeof METERED_ACTIONS)[number];
/** Every action `check` and `consume` accept: a metered one, or `feature.<flag>`. */
export type Action = MeteredAction | `feature.${Feature}`;
export const ACTIONS: readonly Action[] = [...METERED_ACTIONS, ...FEATURES.map((f) => `feature.${f}` as const)];

/** "none": the org does not exist (a `check` for an unknown org answers with it). */
export const PLAN_IDS = ["free", "pro", "business", "enterprise", "none"] as const;
export type PlanId = (typeof PLAN_IDS)[number];

export const LIMIT_KINDS = ["hard", "soft", "unlimited"] as const;
export type LimitKind = (typeof LIMIT_KINDS)[number];

/** Why a decision denies (or, for soft limits and grace, warns). */
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

/**
 * The subscription statuses the service knows: Dodo's documented ones, and "none" for an org
 * without a subscription. Dodo may add statuses; the service stores them as sent, so the type
 * stays open (`string & {}` keeps the editor's completion of the known ones).
 */
export const SUBSCRIPTION_STATUSES = ["none", "pending", "active", "on_hold", "paused", "cancelled", "failed", "expired"] as const;
export type KnownSubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export type SubscriptionStatus = KnownSubscriptionStatus | (string & {});
