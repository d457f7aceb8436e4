import { Prisma } from "@/server/db/client";
import type { Tx } from "@/server/db/tx";

import { PLANS } from "../catalogue";
import { SUBSCRIPTION_PRECEDENCE } from "../subscription-precedence";
import { RESET_REASONS } from "../window-reset";

/**
 * The one SQL fragment that puts metered ledger rows into `usage_report_outbox`. Every
 * statement that inserts ledger rows through a CTE named `ins` appends it, so a metered row
 * enters the outbox in the SAME statement (and transaction) as the ledger row: usage is
 * reported to Dodo if and only if it was recorded.
 *
 * A row is metered when its metric has a Dodo meter on the plan of the org's current paid
 * subscription (active, on hold/past due, or cancelled but inside the paid period) and the
 * subscription has a Dodo customer. Only usage is reported: positive deltas, not window resets,
 * backfill corrections or staff adjustments, which correct counts rather than add usage.
 */

/** Ledger reasons that correct a count instead of recording new usage: never reported. */
export const UNREPORTED_REASONS = [...RESET_REASONS, "migration", "manual_adjustment"] as const;

/** Subscription statuses whose plan's meters apply (cancelled: only inside the paid period). */
export const REPORTING_STATUSES = ["active", "on_hold", "past_due"] as const;

export interface MeterBinding {
  productId: string;
  metric: string;
  eventName: string;
}

/** (Dodo product, metric) → meter event name, from the catalogue. */
export const METER_BINDINGS: readonly MeterBinding[] = PLANS.flatMap((plan) =>
  plan.dodoProductId
    ? Object.entries(plan.meters).map(([metric, eventName]) => ({
        productId: plan.dodoProductId as string,
        metric,
        eventName: eventName as string,
      }))
    : [],
);

const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;
const list = (values: readonly string[]) => values.map(literal).join(", ");

/**
 * `perOrg`: the subscription looked up once per org of `ins` instead of once per row (the
 * same row either way: one statement, one snapshot) — for statements inserting many rows
 * per org (incrementMany: 1 000 events over 100 orgs are 100 lookups, not 1 000).
 */
function outboxCte(bindings: readonly MeterBinding[], perOrg = false): Prisma.Sql {
  if (bindings.length === 0) return Prisma.empty;
  // Catalogue data, validated at load: inlined as literals so the hot statements keep the
  // same parameters (and prepared-statement shape) they had before reporting existed.
  const meters = bindings.map((b) => `(${literal(b.productId)}, ${literal(b.metric)}, ${literal(b.eventName)})`).join(", ");
  const meteredMetrics = list([...new Set(bindings.map((b) => b.metric))]);
  // The subscription is the one the policy uses (SUBSCRIPTION_PRECEDENCE); then it must be
  // one whose plan is being paid for.
  const subscription = `SELECT s.id, s.customer_id, s.product_id, s.status, s.current_period_end FROM subscriptions s
      WHERE s.org_id = i.org_id
      ORDER BY ${SUBSCRIPTION_PRECEDENCE} LIMIT 1`;
  // Per org: looked up in a CTE of its own, materialized, so the planner cannot fold it
  // back into a lookup per row.
  const perOrgCte = `, usage_report_subscription AS MATERIALIZED (
    SELECT i.org_id, s.* FROM (SELECT DISTINCT org_id FROM ins) i CROSS JOIN LATERAL (${subscription}) s
  )`;
  const source = perOrg ? "JOIN usage_report_subscription s ON s.org_id = i.org_id" : `CROSS JOIN LATERAL (${subscription}) s`;
  return Prisma.raw(`${perOrg ? perOrgCte : ""}, usage_report AS (
    INSERT INTO usage_report_outbox (org_id, ledger_id, metric, event_name, customer_id, subscription_id, quantity, event_timestamp)
    SELECT i.org_id, i.id, i.metric, m.event_name, s.customer_id, s.id, i.delta, i.timestamp
    FROM ins i
    ${source}
    JOIN (VALUES ${meters}) AS m(product_id, metric, event_name) ON m.product_id = s.product_id AND m.metric = i.metric
    WHERE i.delta > 0 AND i.metric IN (${meteredMetrics}) AND i.reason NOT IN (${list(UNREPORTED_REASONS)})
      AND s.customer_id IS NOT NULL
      AND (s.status IN (${list(REPORTING_STATUSES)}) OR (s.status = 'cancelled' AND s.current_period_end > i.timestamp))
    ON CONFLICT (ledger_id) DO NOTHING
    RETURNING ledger_id
  )`);
}

/** Append after the `ins` CTE (the ledger insert's RETURNING *) of a WITH statement. */
export const REPORT_METERED_USAGE: Prisma.Sql = outboxCte(METER_BINDINGS);
/** The same, for a statement inserting many rows per org (see outboxCte). */
export const REPORT_METERED_USAGE_PER_ORG: Prisma.Sql = outboxCte(METER_BINDINGS, true);

/** How far back a catch-up looks: what Dodo still accepts (its 1-hour window, less a margin). */
export const CATCH_UP_WINDOW_MINUTES = 58;

/**
 * Usage recorded before the org's subscription was known here (its webhook arrived late:
 * Dodo retries for up to a day) was not metered when it happened. When a subscription
 * event is applied, the org's ledger rows still inside Dodo's window that have no outbox row
 * are put through the same rule now. Older ones Dodo would refuse anyway. Returns how many
 * rows entered the outbox.
 */
export async function catchUpMeteredUsage(tx: Tx, orgId: string): Promise<number> {
  if (REPORT_METERED_USAGE === Prisma.empty) return 0;
  const [row] = await tx.$queryRaw<{ caught_up: bigint }[]>`
    WITH ins AS (
      SELECT l.* FROM usage_ledger l
      WHERE l.org_id = ${orgId}::uuid AND l.timestamp > now() - make_interval(mins => ${CATCH_UP_WINDOW_MINUTES})
        AND NOT EXISTS (SELECT 1 FROM usage_report_outbox o WHERE o.org_id = l.org_id AND o.ledger_id = l.id)
    )${REPORT_METERED_USAGE}
    SELECT count(*) AS caught_up FROM usage_report`;
  return Number(row?.caught_up ?? 0);
}
