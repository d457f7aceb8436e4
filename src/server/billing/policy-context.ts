import { Prisma } from "@/server/db/client";
import { viaPrisma, type RawQuery, type RawTransaction } from "@/server/db/raw-query";
import type { Db } from "@/server/db/tx";

import { METRIC_KIND, METRICS, type LimitKind, type Metric } from "./catalogue";
import { effectiveLimit, effectivePlan, remainingOf, type OverrideState, type SubscriptionState } from "./policy";
import { SUBSCRIPTION_PRECEDENCE } from "./subscription-precedence";
import { countInWindow, usageSince, windowOfRow, type CacheRow } from "./window-usage";
import type { UsageWindow } from "./windows";

/**
 * What the policy decides from, read for one org: its subscription, active limit overrides
 * and cached usage (`OrgPolicyContext`), and the per-metric summary staff see. Shared by the
 * entitlement checks, the org list and the subscription panel, so they never disagree.
 */

export interface OrgPolicyContext {
  orgId: string;
  subscription: SubscriptionState | null;
  overrides: Partial<Record<Metric, OverrideState>>;
  /**
   * The cached usage as of the context's `now`: a gauge's amount; a period counter's count in
   * its current window (0 in a window nothing was recorded in yet, though the row still holds
   * the last window's count until a write resets it) — for the period counters the read was
   * asked to work out (`periodMetrics`), absent for the others.
   */
  usage: Partial<Record<Metric, { count: bigint; lastUpdated: Date }>>;
  /** The window each period counter counts in (see `windowOfRow`); gauges have none. */
  windows: Partial<Record<Metric, UsageWindow>>;
}

export interface UsageSummary {
  orgId: string;
  plan: string;
  subscriptionStatus: string;
  metrics: {
    metric: Metric;
    count: bigint;
    limit: bigint | null;
    limitKind: LimitKind;
    limitOverridden: boolean;
    remaining: bigint | null;
    lastUpdated: Date | null;
    /** The window a period counter's count is in; null for a gauge. */
    windowStart: Date | null;
    windowEnd: Date | null;
  }[];
}

interface SubscriptionJson {
  id: string;
  product_id: string;
  status: string;
  current_period_start: string | null;
  current_period_end: string | null;
  updated_at: string;
}

/** The org's subscription the policy uses (SUBSCRIPTION_PRECEDENCE), as JSON, for an `organizations o` row. */
const SUBSCRIPTION_JSON = Prisma.sql`(SELECT row_to_json(s) FROM (
         SELECT id, product_id, status, current_period_start, current_period_end, updated_at
         FROM subscriptions WHERE org_id = o.id
         ORDER BY ${Prisma.raw(SUBSCRIPTION_PRECEDENCE)} LIMIT 1) s)`;

function toSubscriptionState(sub: SubscriptionJson | null): SubscriptionState | null {
  return (
    sub && {
      id: sub.id,
      productId: sub.product_id,
      status: sub.status,
      currentPeriodStart: sub.current_period_start ? new Date(sub.current_period_start) : null,
      currentPeriodEnd: sub.current_period_end ? new Date(sub.current_period_end) : null,
      updatedAt: new Date(sub.updated_at),
    }
  );
}

/**
 * The org's subscription alone (what a billing-period window depends on), in one statement;
 * undefined when the org does not exist.
 */
export async function readSubscription(run: RawQuery, orgId: string): Promise<SubscriptionState | null | undefined> {
  // `o.id = $1`, not readSubscriptions' `= ANY($1)`: PostgreSQL keeps a generic plan for this
  // prepared statement, where the array form was planned afresh on every increment.
  const rows = await run<{ subscription: SubscriptionJson | null }>(Prisma.sql`
    SELECT ${SUBSCRIPTION_JSON} AS subscription FROM organizations o WHERE o.id = ${orgId}::uuid`);
  return rows[0] ? toSubscriptionState(rows[0].subscription) : undefined;
}

/**
 * An org's subscription with the exact text `SUBSCRIPTION_TEXT` gives for it (null: none): a
 * later statement that finds the same text for the org knows the subscription — and every
 * window computed from it — is still the org's (incrementMany's one-statement path).
 */
export interface SubscriptionSnapshot {
  state: SubscriptionState | null;
  text: string | null;
}

/** `SUBSCRIPTION_JSON` as text, for an `organizations o` row. */
export const SUBSCRIPTION_TEXT = Prisma.sql`(${SUBSCRIPTION_JSON})::text`;

/** Each existing org of `orgIds` with its subscription snapshot (absent: no such org), in one statement. */
export async function readSubscriptionSnapshots(run: RawQuery, orgIds: string[]): Promise<Map<string, SubscriptionSnapshot>> {
  const rows = await run<{ id: string; subscription: string | null }>(Prisma.sql`
    SELECT o.id::text, ${SUBSCRIPTION_TEXT} AS subscription FROM organizations o WHERE o.id = ANY(${orgIds}::uuid[])`);
  return new Map(
    rows.map((r) => [
      r.id,
      {
        text: r.subscription,
        state: toSubscriptionState(r.subscription === null ? null : (JSON.parse(r.subscription) as SubscriptionJson)),
      },
    ]),
  );
}

/** Each existing org of `orgIds` with its subscription (absent: no such org), in one statement. */
export async function readSubscriptions(run: RawQuery, orgIds: string[]): Promise<Map<string, SubscriptionState | null>> {
  const rows = await run<{ id: string; subscription: SubscriptionJson | null }>(Prisma.sql`
    SELECT o.id::text, ${SUBSCRIPTION_JSON} AS subscription FROM organizations o WHERE o.id = ANY(${orgIds}::uuid[])`);
  return new Map(rows.map((r) => [r.id, toSubscriptionState(r.subscription)]));
}

export interface PolicyContextOptions {
  /**
   * Whether a period counter's row not written since windows existed, and changed inside the
   * current window, is counted exactly (one more statement, over the ledger) or reported as
   * it stands (consume: its statement recounts the row under its lock anyway). Default true.
   */
  exactUnwindowedRows?: boolean;
  /**
   * The period counters whose window and usage to work out (default: all). check and consume
   * need only their action's metric, and a gauge's action none: it does not pay for windows.
   */
  periodMetrics?: readonly Metric[];
}

/** Everything the policy needs about an org at `now`, in ONE round trip (all primary-key or indexed reads). */
export async function loadPolicyContext(db: Db, orgId: string, now: Date): Promise<OrgPolicyContext | null> {
  return readPolicyContext(viaPrisma(db), orgId, now);
}

/**
 * The ONE statement `readPolicyContext` reads an org's policy inputs with: its subscription,
 * its active overrides at `now`, its cache rows (no row: no such org). Exported for the bench,
 * which runs it bare to tell the statements' cost from the code's.
 */
export function policyContextSql(orgId: string, now: Date): Prisma.Sql {
  return Prisma.sql`
  SELECT
    ${SUBSCRIPTION_JSON} AS subscription,
    (SELECT json_agg(v) FROM (
       SELECT DISTINCT ON (metric) metric, kind, value::text AS value, expires_at
       FROM limit_overrides
       WHERE org_id = o.id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now}::timestamptz)
       ORDER BY metric, created_at DESC, id DESC) v) AS overrides,
    (SELECT json_agg(u) FROM (
       SELECT metric, count::text AS count, last_updated, window_start FROM usage_cache WHERE org_id = o.id) u) AS usage
  FROM organizations o WHERE o.id = ${orgId}::uuid`;
}

/** `loadPolicyContext` on any statement runner: the entitlement hot path runs it straight on the pg pool. */
export async function readPolicyContext(
  run: RawQuery,
  orgId: string,
  now: Date,
  options: PolicyContextOptions = {},
): Promise<OrgPolicyContext | null> {
  const rows = await run<{
    subscription: SubscriptionJson | null;
    overrides: { metric: string; kind: OverrideState["kind"]; value: string | null; expires_at: string | null }[] | null;
    usage: { metric: string; count: string; last_updated: string; window_start: string | null }[] | null;
  }>(policyContextSql(orgId, now));
  const row = rows[0];
  if (!row) return null;
  const subscription = toSubscriptionState(row.subscription);
  const cached = new Map<string, CacheRow>(
    (row.usage ?? []).map((u) => [
      u.metric,
      { count: BigInt(u.count), lastUpdated: new Date(u.last_updated), windowStart: u.window_start ? new Date(u.window_start) : null },
    ]),
  );
  const usage: OrgPolicyContext["usage"] = {};
  const windows: OrgPolicyContext["windows"] = {};
  const unanswered: { metric: Metric; start: Date }[] = [];
  // A period counter's row counts in a window: its usage is set below, from the window.
  for (const [metric, cache] of cached) {
    if (METRIC_KIND[metric as Metric] !== "period_counter")
      usage[metric as Metric] = { count: cache.count, lastUpdated: cache.lastUpdated };
  }
  for (const metric of options.periodMetrics ?? METRICS) {
    const cache = cached.get(metric);
    const window = windowOfRow(metric, subscription, now, cache?.windowStart ?? null);
    if (!window) continue;
    windows[metric] = window;
    const count = countInWindow(cache, window);
    if (count === "ledger") unanswered.push({ metric, start: window.start });
    else if (cache) usage[metric] = { count, lastUpdated: cache.lastUpdated };
  }
  if (unanswered.length > 0) {
    const exact = options.exactUnwindowedRows !== false;
    const since = exact ? await usageSince(run, orgId, unanswered) : new Map<Metric, bigint>();
    for (const { metric } of unanswered) {
      const cache = cached.get(metric) as CacheRow;
      // What a write's reset would leave: the usage since the window began, within [0, count].
      const count = exact ? (since.get(metric) ?? 0n) : cache.count;
      usage[metric] = { count: count < 0n ? 0n : count > cache.count ? cache.count : count, lastUpdated: cache.lastUpdated };
    }
  }
  return {
    orgId,
    subscription,
    overrides: Object.fromEntries(
      (row.overrides ?? []).map((o) => [
        o.metric,
        { kind: o.kind, value: o.value === null ? null : BigInt(o.value), expiresAt: o.expires_at ? new Date(o.expires_at) : null },
      ]),
    ),
    usage,
    windows,
  };
}

/**
 * `readPolicyContext` for every metric as of ONE snapshot: its statements (the context, and
 * the ledger recount a row written before windows existed needs) run in one REPEATABLE READ,
 * READ ONLY transaction, so the subscription, the overrides and the usage are what the
 * database held at one instant — what the usage summary and the entitlement snapshot report.
 */
export async function readPolicyContextSnapshot(transaction: RawTransaction, orgId: string, now: Date): Promise<OrgPolicyContext | null> {
  return transaction(async (run) => {
    // Must be the transaction's first statement: the snapshot is taken by the next one.
    await run(Prisma.sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
    return readPolicyContext(run, orgId, now);
  });
}

/** Every metric's count against its effective limit (plan, subscription status, override). */
export function summarizeUsage(context: OrgPolicyContext, now: Date): UsageSummary {
  const effective = effectivePlan(context.subscription, now);
  return {
    orgId: context.orgId,
    plan: effective.plan.id,
    subscriptionStatus: effective.subscriptionStatus,
    metrics: METRICS.map((metric) => {
      const { limit, overridden } = effectiveLimit(effective.plan, metric, context.overrides[metric], now);
      const count = context.usage[metric]?.count ?? 0n;
      const value = limit === "unlimited" ? null : limit.value;
      return {
        metric,
        count,
        limit: value,
        limitKind: limit === "unlimited" ? "unlimited" : limit.kind,
        limitOverridden: overridden,
        remaining: remainingOf(value, count),
        lastUpdated: context.usage[metric]?.lastUpdated ?? null,
        windowStart: context.windows[metric]?.start ?? null,
        windowEnd: context.windows[metric]?.end ?? null,
      };
    }),
  };
}
