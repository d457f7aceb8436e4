import type { Action, Feature, LimitKind, Metric, PlanId, ReasonCode, SubscriptionStatus } from "./catalogue";
import type { BillingErrorCode } from "./errors";

/**
 * What the billing API answers, as the product app sees it. Counts and limits are `bigint`
 * (64-bit, exact); times are `Date`. `toJSONSafe` turns any of these into plain JSON.
 */

/** A count or amount: a bigint, a safe integer, or a decimal string (for values past 2^53). */
export type Amount = bigint | number | string;

export interface Reason<Code extends string = ReasonCode> {
  code: Code;
  message: string;
}

/** The figures behind a metered decision (absent for feature actions). */
interface DecisionFigures {
  metric?: Metric;
  /** null: unlimited. */
  limit?: bigint | null;
  limitKind?: LimitKind;
  limitOverridden?: boolean;
  used?: bigint;
  /** null: unlimited. */
  remaining?: bigint | null;
  /** The window `used` counts in, [start, end): period counters only. */
  windowStart?: Date;
  windowEnd?: Date;
  plan: PlanId;
  subscriptionStatus: SubscriptionStatus;
  fallback?: undefined;
}

/**
 * The service's answer. A denial always says why; an allowance may carry a warning
 * (`soft_limit_exceeded`, `grace_period`).
 */
export type ServiceDecision = DecisionFigures & ({ allowed: true; reason?: Reason } | { allowed: false; reason: Reason });

/**
 * The client's own answer when the service could not be reached (timeout, network, 5xx) and
 * the action's fallback is "open" or "closed": log it, the service did not decide.
 */
export interface FallbackDecision {
  allowed: boolean;
  fallback: true;
  reason: Reason<"billing_unavailable">;
  /**
   * What went wrong reaching the service. On the server it is the BillingClientError itself
   * (`isBillingError` holds); through the browser proxy, only its code and message.
   */
  error: FallbackCause;
}

export interface FallbackCause {
  code: BillingErrorCode;
  message: string;
}

export type Decision = ServiceDecision | FallbackDecision;

export interface LedgerEntry {
  id: string;
  orgId: string;
  metric: Metric;
  delta: bigint;
  reason: string;
  timestamp: Date;
  idempotencyKey: string | null;
  actor: string;
  metadata: Record<string, unknown>;
}

/** `consume`: the decision and, when allowed, the ledger entry it wrote. `replayed`: the key was seen before. */
export type ConsumeResult =
  (ServiceDecision & { entry?: LedgerEntry; replayed: boolean }) | (FallbackDecision & { entry?: undefined; replayed: false });

export interface CheckInput {
  orgId: string;
  action: Action;
  /** Bytes for file.upload / file.delete; 1 for the other actions. */
  amount?: Amount;
}

export interface ConsumeInput extends CheckInput {
  /** Required: a retry with the same key is answered from the first attempt, never applied twice. */
  idempotencyKey: string;
  metadata?: Record<string, unknown>;
}

export interface IncrementInput {
  orgId: string;
  metric: Metric;
  /** Signed: a negative amount frees usage (a gauge going down). */
  amount: Amount;
  /** A snake_case word, e.g. `api_call`. */
  reason: string;
  idempotencyKey?: string;
  metadata?: Record<string, unknown>;
}

export interface IncrementResult {
  entry: LedgerEntry;
  /** The metric's count after the write. */
  count: bigint;
  replayed: boolean;
}

export interface IncrementManyInput {
  events: IncrementInput[];
  /** All or nothing: any rejected event rejects the batch (BAD_REQUEST), nothing written. */
  atomic?: boolean;
}

export type IncrementManyEventResult =
  | { index: number; status: "applied"; entry: LedgerEntry }
  | { index: number; status: "duplicate"; entryId: string | null; duplicateOf: "batch" | "history" }
  | { index: number; status: "rejected"; reason: Reason<string> };

export interface IncrementManyResult {
  results: IncrementManyEventResult[];
}

export interface MetricUsage {
  metric: Metric;
  count: bigint;
  /** null: unlimited. */
  limit: bigint | null;
  limitKind: LimitKind;
  limitOverridden: boolean;
  remaining: bigint | null;
  lastUpdated: Date | null;
  /** The window a period counter's count is in, [start, end); null for a gauge. */
  windowStart: Date | null;
  windowEnd: Date | null;
}

export interface UsageSummary {
  orgId: string;
  plan: PlanId;
  subscriptionStatus: SubscriptionStatus;
  metrics: MetricUsage[];
}

export interface SnapshotInput {
  orgId: string;
}

export interface SnapshotMetric {
  metric: Metric;
  used: bigint;
  /** null: unlimited. */
  limit: bigint | null;
  limitKind: LimitKind;
  remaining: bigint | null;
  overridden: boolean;
  windowStart: Date | null;
  windowEnd: Date | null;
  lastUpdated: Date | null;
}

/** Everything a product page shows, consistent as of one read (`asOf`). */
export interface EntitlementSnapshot {
  orgId: string;
  plan: PlanId;
  subscriptionStatus: SubscriptionStatus;
  /** When a grace period (on_hold / past_due) ends; null outside one. */
  graceEndsAt: Date | null;
  asOf: Date;
  metrics: SnapshotMetric[];
  features: { feature: Feature; enabled: boolean }[];
}
