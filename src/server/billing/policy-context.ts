import { Prisma } from "@/server/db/client";
import { viaPrisma, type RawQuery } from "@/server/db/raw-query";
import type { Db } from "@/server/db/tx";

import { METRICS, type LimitKind, type Metric } from "./catalogue";
import { effectiveLimit, effectivePlan, remainingOf, type OverrideState, type SubscriptionState } from "./policy";
import { SUBSCRIPTION_PRECEDENCE } from "./subscription-precedence";

/**
 * What the policy decides from, read for one org: its subscription, active limit overrides
 * and cached usage (`OrgPolicyContext`), and the per-metric summary staff see. Shared by the
 * entitlement checks, the org list and the subscription panel, so they never disagree.
 */

export interface OrgPolicyContext {
  orgId: string;
  subscription: SubscriptionState | null;
  overrides: Partial<Record<Metric, OverrideState>>;
  usage: Partial<Record<Metric, { count: bigint; lastUpdated: Date }>>;
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
  }[];
}

/** Everything the policy needs about an org, in ONE round trip (all primary-key or indexed reads). */
export async function loadPolicyContext(db: Db, orgId: string): Promise<OrgPolicyContext | null> {
  return readPolicyContext(viaPrisma(db), orgId);
}

/** `loadPolicyContext` on any statement runner: the entitlement hot path runs it straight on the pg pool. */
export async function readPolicyContext(run: RawQuery, orgId: string): Promise<OrgPolicyContext | null> {
  const rows = await run<{
    subscription: {
      id: string;
      product_id: string;
      status: string;
      current_period_start: string | null;
      current_period_end: string | null;
      updated_at: string;
    } | null;
    overrides: { metric: string; kind: OverrideState["kind"]; value: string | null; expires_at: string | null }[] | null;
    usage: { metric: string; count: string; last_updated: string }[] | null;
  }>(Prisma.sql`
    SELECT
      (SELECT row_to_json(s) FROM (
         SELECT id, product_id, status, current_period_start, current_period_end, updated_at
         FROM subscriptions WHERE org_id = o.id
         ORDER BY ${Prisma.raw(SUBSCRIPTION_PRECEDENCE)} LIMIT 1) s) AS subscription,
      (SELECT json_agg(v) FROM (
         SELECT DISTINCT ON (metric) metric, kind, value::text AS value, expires_at
         FROM limit_overrides
         WHERE org_id = o.id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
         ORDER BY metric, created_at DESC) v) AS overrides,
      (SELECT json_agg(u) FROM (
         SELECT metric, count::text AS count, last_updated FROM usage_cache WHERE org_id = o.id) u) AS usage
    FROM organizations o WHERE o.id = ${orgId}::uuid`);
  const row = rows[0];
  if (!row) return null;
  const sub = row.subscription;
  return {
    orgId,
    subscription: sub && {
      id: sub.id,
      productId: sub.product_id,
      status: sub.status,
      currentPeriodStart: sub.current_period_start ? new Date(sub.current_period_start) : null,
      currentPeriodEnd: sub.current_period_end ? new Date(sub.current_period_end) : null,
      updatedAt: new Date(sub.updated_at),
    },
    overrides: Object.fromEntries(
      (row.overrides ?? []).map((o) => [
        o.metric,
        { kind: o.kind, value: o.value === null ? null : BigInt(o.value), expiresAt: o.expires_at ? new Date(o.expires_at) : null },
      ]),
    ),
    usage: Object.fromEntries((row.usage ?? []).map((u) => [u.metric, { count: BigInt(u.count), lastUpdated: new Date(u.last_updated) }])),
  };
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
      };
    }),
  };
}
