import type { Db, Tx } from "@/server/db/tx";

import { METRICS, planForProduct } from "../catalogue";
import { BillingError } from "../errors";
import { watchEntitlements } from "../events/entitlement-events";
import { watchSubscription } from "../events/subscription-events";
import { catchUpMeteredUsage } from "../usage-reporting/outbox-sql";
import type { UsageService } from "../usage-service";
import { windowFollowsSubscription } from "../usage-window";
import { UUID_PATTERN } from "../uuid";
import { describeIssues, subscriptionDataSchema, type SubscriptionData, type SubscriptionEvent } from "./events";

/**
 * Dodo subscription events applied as STATE to `subscriptions`: an older event never
 * overwrites newer state. Whether the event came from a webhook or from a reconciliation
 * fetch, this is the one writer of the row, its customer → org mapping, and the period
 * reset that a new billing period brings.
 */

export interface SyncResult {
  action: "created" | "updated" | "stale";
  subscriptionId: string;
  orgId: string | null;
  /** The new period start when `api_calls` was reset into it. */
  periodReset: Date | null;
}

/** Not a transient failure: the event cannot succeed as it is (unknown org/product, bad data). */
export class WebhookProblem extends BillingError {
  constructor(reason: string, message: string, details?: Record<string, unknown>) {
    super("PRECONDITION_FAILED", reason, message, details);
    this.name = "WebhookProblem";
  }
}

/**
 * The counters a new billing period resets: those whose window is the billing period (a
 * calendar window, e.g. per day, starts on its own clock).
 */
const PERIOD_COUNTERS = METRICS.filter(windowFollowsSubscription);

interface ExistingRow {
  org_id: string;
  status: string;
  current_period_start: Date | null;
  updated_at: Date;
  last_event_at: Date | null;
}

function metadataOrgId(metadata: Record<string, unknown> | null | undefined): string | undefined {
  const value = metadata?.org_id;
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

/**
 * Applies a subscription event as STATE, in `tx`: upserts `subscriptions` unless a newer
 * event has already been applied (compared under a per-subscription lock). Entering a new
 * period (renewal, or an active event whose period start moved forward) resets period
 * counters in the same transaction, once per period. Throws `WebhookProblem` for an unknown
 * org or product (nothing written).
 */
export async function applySubscriptionEvent(
  tx: Tx,
  usage: Pick<UsageService, "resetPeriod">,
  event: SubscriptionEvent,
): Promise<SyncResult> {
  const parsed = subscriptionDataSchema.safeParse(event.data);
  if (!parsed.success) throw new WebhookProblem("invalid_subscription", `invalid subscription data: ${describeIssues(parsed.error)}`);
  const data = parsed.data;
  const subscriptionId = data.subscription_id;
  // One writer per subscription at a time, whether or not its row exists yet.
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`dodo_subscription:${subscriptionId}`}, 0))`;
  const [existing] = await tx.$queryRaw<ExistingRow[]>`
    SELECT org_id::text, status, current_period_start, updated_at, last_event_at
    FROM subscriptions WHERE id = ${subscriptionId} FOR UPDATE`;

  if (existing?.last_event_at && event.timestamp < existing.last_event_at) {
    return { action: "stale", subscriptionId, orgId: existing.org_id, periodReset: null };
  }

  if (!planForProduct(data.product_id)) {
    throw new WebhookProblem("unknown_product", `unknown product ${data.product_id}: no plan in the catalogue has this Dodo product id`, {
      subscriptionId,
      orgId: existing?.org_id,
    });
  }
  const org = await resolveOrg(tx, data, existing);

  // Outgoing events (issue #12): the state before the write, to announce only a real change.
  const watchedSubscription = await watchSubscription(tx, subscriptionId);
  const watchedOrgs = await Promise.all(
    [...new Set([org.orgId, existing?.org_id].filter((id): id is string => !!id))].map((id) => watchEntitlements(tx, id)),
  );

  const status = data.status;
  const statusChangedAt = existing && existing.status === status ? existing.updated_at : event.timestamp;
  const periodStart = data.previous_billing_date ?? null;
  const periodEnd = data.next_billing_date ?? null;
  await tx.$executeRaw`
    INSERT INTO subscriptions (id, org_id, product_id, status, current_period_start, current_period_end,
                               customer_id, quantity, cancel_at_period_end, cancelled_at, expires_at,
                               last_event_at, last_event_id, updated_at)
    VALUES (${subscriptionId}, ${org.orgId}::uuid, ${data.product_id}, ${status}, ${periodStart}, ${periodEnd},
            ${data.customer.customer_id}, ${data.quantity ?? 1}, ${data.cancel_at_next_billing_date ?? false},
            ${data.cancelled_at ?? null}, ${data.expires_at ?? null}, ${event.timestamp}, ${event.id}, ${statusChangedAt})
    ON CONFLICT (id) DO UPDATE SET
      org_id = EXCLUDED.org_id, product_id = EXCLUDED.product_id, status = EXCLUDED.status,
      current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,
      customer_id = EXCLUDED.customer_id, quantity = EXCLUDED.quantity,
      cancel_at_period_end = EXCLUDED.cancel_at_period_end, cancelled_at = EXCLUDED.cancelled_at,
      expires_at = EXCLUDED.expires_at, last_event_at = EXCLUDED.last_event_at,
      last_event_id = EXCLUDED.last_event_id, updated_at = EXCLUDED.updated_at
    WHERE subscriptions.last_event_at IS NULL OR subscriptions.last_event_at <= EXCLUDED.last_event_at`;

  // Learn (or correct, when metadata says so) the customer → org mapping.
  if (org.source === "metadata") {
    await tx.$executeRaw`
      INSERT INTO dodo_customers (customer_id, org_id) VALUES (${data.customer.customer_id}, ${org.orgId}::uuid)
      ON CONFLICT (customer_id) DO UPDATE SET org_id = EXCLUDED.org_id, updated_at = now()
      WHERE dodo_customers.org_id <> EXCLUDED.org_id`;
  } else if (org.source === "subscription") {
    await tx.$executeRaw`
      INSERT INTO dodo_customers (customer_id, org_id) VALUES (${data.customer.customer_id}, ${org.orgId}::uuid)
      ON CONFLICT (customer_id) DO NOTHING`;
  }

  let periodReset: Date | null = null;
  const renewing = event.type === "subscription.renewed" || status === "active";
  const movedForward = periodStart !== null && (!existing?.current_period_start || periodStart > existing.current_period_start);
  if (renewing && movedForward && periodStart) {
    for (const metric of PERIOD_COUNTERS) {
      await usage.resetPeriod(org.orgId, metric, periodStart, { tx, actor: `dodo:${event.id}` });
    }
    periodReset = periodStart;
  }
  // Usage recorded while this subscription was not yet known here is metered now (same rule).
  await catchUpMeteredUsage(tx, org.orgId);
  await watchedSubscription.emitIfChanged();
  for (const watch of watchedOrgs) await watch.emitIfChanged();
  return { action: existing ? "updated" : "created", subscriptionId, orgId: org.orgId, periodReset };
}

/** The org: subscription metadata `org_id`, customer metadata `org_id`, the customer mapping, the existing row. */
async function resolveOrg(
  db: Db,
  data: SubscriptionData,
  existing: ExistingRow | undefined,
): Promise<{ orgId: string; source: "metadata" | "mapping" | "subscription" }> {
  const tried: string[] = [];
  for (const [label, candidate] of [
    ["subscription metadata org_id", metadataOrgId(data.metadata)],
    ["customer metadata org_id", metadataOrgId(data.customer.metadata)],
  ] as const) {
    if (!candidate) continue;
    if (UUID_PATTERN.test(candidate)) {
      const [found] = await db.$queryRaw<{ id: string }[]>`SELECT id::text FROM organizations WHERE id = ${candidate}::uuid`;
      if (found) return { orgId: found.id, source: "metadata" };
    }
    tried.push(`${label} ${JSON.stringify(candidate)} is not an organization`);
  }
  const [mapped] = await db.$queryRaw<{ org_id: string }[]>`
    SELECT c.org_id::text FROM dodo_customers c JOIN organizations o ON o.id = c.org_id
    WHERE c.customer_id = ${data.customer.customer_id}`;
  if (mapped) return { orgId: mapped.org_id, source: "mapping" };
  if (existing) return { orgId: existing.org_id, source: "subscription" };
  tried.push(`no mapping for customer ${data.customer.customer_id}`);
  throw new WebhookProblem("unknown_org", `unknown org for subscription ${data.subscription_id}: ${tried.join("; ")}`, {
    subscriptionId: data.subscription_id,
  });
}
