import { FREE_PLAN_ID, METRICS, PLANS } from "../catalogue";
import { GRACE_STATUS_LIST, PAID_STATUS_LIST } from "../policy";
import { SUBSCRIPTION_PRECEDENCE } from "../subscription-precedence";

/**
 * The policy's effective plan and limit (policy.ts `effectivePlan` + `effectiveLimit`) as SQL,
 * for statements that must know the limit where they write: the usage alerts decide a
 * threshold crossing in the statement that moves the count. The subscription the policy reads
 * (SUBSCRIPTION_PRECEDENCE) → its plan while paid, in grace or lapsed (a lapsed plan keeps its
 * limits; only its increments are refused), or cancelled but paid through `at`, else free;
 * the newest unrevoked, unexpired override replaces the plan's limit for its metric.
 *
 * The catalogue is inlined as literals (validated data), so a hot statement keeps the
 * parameters it had. test/integration/usage-alerts-limit.test.ts holds this equal to the
 * TypeScript policy over every status, plan and override case.
 */

const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;
const list = (values: readonly string[]) => values.map(literal).join(", ");

const PRODUCTS = PLANS.filter((p) => p.dodoProductId)
  .map((p) => `(${literal(p.id)}, ${literal(p.dodoProductId as string)})`)
  .join(", ");

const LIMITS = PLANS.flatMap((p) =>
  METRICS.map((m) => {
    const limit = p.limits[m];
    return limit === "unlimited"
      ? `(${literal(p.id)}, ${literal(m)}, 'unlimited', NULL::bigint)`
      : `(${literal(p.id)}, ${literal(m)}, ${literal(limit.kind)}, ${limit.value.toString()}::bigint)`;
  }),
).join(", ");

/**
 * `from` as `alias`, joined for each of its rows (columns org_id, metric and a timestamptz
 * `at`) to `el`: `el.plan_id`, `el.limit_kind` ('hard' | 'soft' | 'unlimited') and
 * `el.limit_value` (NULL when unlimited). FROM-clause text: `FROM ${effectiveLimitJoins(…)}`.
 */
export function effectiveLimitJoins(from: string, alias: string): string {
  const source = alias;
  const keeps = list([...PAID_STATUS_LIST, ...GRACE_STATUS_LIST]);
  return `${from} ${alias}
    LEFT JOIN LATERAL (
      SELECT s.product_id, s.status, s.current_period_end FROM subscriptions s
      WHERE s.org_id = ${source}.org_id ORDER BY ${SUBSCRIPTION_PRECEDENCE} LIMIT 1
    ) el_sub ON TRUE
    LEFT JOIN (VALUES ${PRODUCTS}) AS el_product(plan_id, product_id) ON el_product.product_id = el_sub.product_id
    CROSS JOIN LATERAL (
      SELECT CASE
               WHEN el_sub.status IN (${keeps}) OR (el_sub.status = 'cancelled' AND el_sub.current_period_end > ${source}.at)
               THEN COALESCE(el_product.plan_id, ${literal(FREE_PLAN_ID)})
               ELSE ${literal(FREE_PLAN_ID)} END AS plan_id
    ) el_plan
    LEFT JOIN LATERAL (
      SELECT o.kind, o.value FROM limit_overrides o
      WHERE o.org_id = ${source}.org_id AND o.metric = ${source}.metric AND o.revoked_at IS NULL
        AND (o.expires_at IS NULL OR o.expires_at > ${source}.at)
      ORDER BY o.created_at DESC, o.id DESC LIMIT 1
    ) el_override ON TRUE
    LEFT JOIN (VALUES ${LIMITS}) AS el_limit(plan_id, metric, kind, value)
      ON el_limit.plan_id = el_plan.plan_id AND el_limit.metric = ${source}.metric
    CROSS JOIN LATERAL (
      SELECT el_plan.plan_id,
             COALESCE(el_override.kind, el_limit.kind) AS limit_kind,
             CASE WHEN el_override.kind IS NULL THEN el_limit.value
                  WHEN el_override.kind = 'unlimited' THEN NULL ELSE el_override.value END AS limit_value
    ) el`;
}
