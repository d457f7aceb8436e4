import type { Db } from "@/server/db/tx";

import { planForProduct } from "../catalogue";
import { BillingError } from "../errors";
import { effectivePlan, type Standing } from "../policy";
import { loadPolicyContext } from "../policy-context";

/**
 * The Dodo subscription of one organization as staff see it: the subscription the policy
 * uses (chosen by `loadPolicyContext`, so the panel and the policy never disagree about
 * which one), every field webhooks keep current, and the plan the policy applies from it.
 * Knows nothing of tRPC or Next.
 */

export interface SubscriptionPanel {
  orgId: string;
  /** What the policy applies now (an expired subscription → the free plan, on hold → grace). */
  effective: { planId: string; planName: string; subscriptionStatus: string; standing: Standing; graceEndsAt: Date | null };
  subscription: {
    id: string;
    productId: string;
    /** The catalogue's plan for the product; null for a product no plan has. */
    plan: { id: string; name: string } | null;
    status: string;
    quantity: number;
    currentPeriodStart: Date | null;
    currentPeriodEnd: Date | null;
    cancelAtPeriodEnd: boolean;
    cancelledAt: Date | null;
    expiresAt: Date | null;
    customerId: string | null;
    lastEventAt: Date | null;
    lastEventId: string | null;
    /** True when `lastEventId` is a stored webhook delivery (not e.g. a `reconcile:` sync). */
    lastEventIsWebhook: boolean;
    /** When the status last changed. */
    updatedAt: Date;
  } | null;
  /** The org's other subscription rows (older or lapsed ones the policy does not use). */
  otherSubscriptions: number;
}

export async function getSubscriptionPanel(db: Db, orgId: string, now: Date = new Date()): Promise<SubscriptionPanel> {
  const context = await loadPolicyContext(db, orgId, now);
  if (!context) throw new BillingError("NOT_FOUND", "org_not_found", `Organization ${orgId} does not exist`);
  const effective = effectivePlan(context.subscription, now);
  const base = {
    orgId,
    effective: {
      planId: effective.plan.id,
      planName: effective.plan.name,
      subscriptionStatus: effective.subscriptionStatus,
      standing: effective.standing,
      graceEndsAt: effective.graceEndsAt,
    },
  };
  if (!context.subscription) return { ...base, subscription: null, otherSubscriptions: 0 };

  const id = context.subscription.id;
  const [row, total] = await Promise.all([db.subscription.findUnique({ where: { id } }), db.subscription.count({ where: { orgId } })]);
  // Gone between the two reads (its org was deleted): nothing to show.
  if (!row) return { ...base, subscription: null, otherSubscriptions: total };
  const webhook = row.lastEventId ? await db.webhookEvent.findUnique({ where: { id: row.lastEventId }, select: { id: true } }) : null;
  const plan = planForProduct(row.productId);
  return {
    ...base,
    subscription: {
      id: row.id,
      productId: row.productId,
      plan: plan ? { id: plan.id, name: plan.name } : null,
      status: row.status,
      quantity: row.quantity,
      currentPeriodStart: row.currentPeriodStart,
      currentPeriodEnd: row.currentPeriodEnd,
      cancelAtPeriodEnd: row.cancelAtPeriodEnd,
      cancelledAt: row.cancelledAt,
      expiresAt: row.expiresAt,
      customerId: row.customerId,
      lastEventAt: row.lastEventAt,
      lastEventId: row.lastEventId,
      lastEventIsWebhook: webhook !== null,
      updatedAt: row.updatedAt,
    },
    otherSubscriptions: total - 1,
  };
}
