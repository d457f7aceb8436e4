import type { Tx } from "@/server/db/tx";

import { planForProduct } from "../catalogue";
import { effectivePlan } from "../policy";
import { insertEvent } from "./insert-event";

/**
 * `subscription.changed`: the subscription row's new state and its previous status, emitted
 * in the transaction that wrote the row, only when a field a receiver cares about changed (a
 * replayed or stale webhook that leaves the row as it was emits nothing).
 */

interface SubscriptionRow {
  id: string;
  org_id: string;
  product_id: string;
  status: string;
  current_period_start: Date | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  cancelled_at: Date | null;
  expires_at: Date | null;
  quantity: number;
  updated_at: Date;
}

async function readRow(tx: Tx, subscriptionId: string): Promise<SubscriptionRow | null> {
  const [row] = await tx.$queryRaw<SubscriptionRow[]>`
    SELECT id, org_id::text, product_id, status, current_period_start, current_period_end, cancel_at_period_end,
           cancelled_at, expires_at, quantity, updated_at
    FROM subscriptions WHERE id = ${subscriptionId}`;
  return row ?? null;
}

/** The fields whose change is announced (not bookkeeping such as last_event_id). */
function stateKey(r: SubscriptionRow): string {
  return JSON.stringify([
    r.org_id,
    r.product_id,
    r.status,
    r.current_period_start?.toISOString() ?? null,
    r.current_period_end?.toISOString() ?? null,
    r.cancel_at_period_end,
    r.cancelled_at?.toISOString() ?? null,
    r.expires_at?.toISOString() ?? null,
    r.quantity,
  ]);
}

export interface SubscriptionWatch {
  /** Emits `subscription.changed` when the row differs from before; returns the event id or null. */
  emitIfChanged(now?: Date): Promise<string | null>;
}

/** Reads the subscription row now, in `tx` (after the caller locked it), to compare with after its write. */
export async function watchSubscription(tx: Tx, subscriptionId: string): Promise<SubscriptionWatch> {
  const before = await readRow(tx, subscriptionId);
  return {
    async emitIfChanged(now = new Date()) {
      const after = await readRow(tx, subscriptionId);
      if (!after || (before && stateKey(before) === stateKey(after))) return null;
      // Grace as the policy judges it (policy.ts): from the row's own status and status time.
      const { graceEndsAt } = effectivePlan(
        {
          id: after.id,
          productId: after.product_id,
          status: after.status,
          currentPeriodStart: after.current_period_start,
          currentPeriodEnd: after.current_period_end,
          updatedAt: after.updated_at,
        },
        now,
      );
      return insertEvent(tx, {
        type: "subscription.changed",
        orgId: after.org_id,
        payload: {
          subscription: {
            id: after.id,
            plan: planForProduct(after.product_id)?.id ?? null,
            productId: after.product_id,
            status: after.status,
            currentPeriodStart: after.current_period_start,
            currentPeriodEnd: after.current_period_end,
            cancelAtPeriodEnd: after.cancel_at_period_end,
            cancelledAt: after.cancelled_at,
            expiresAt: after.expires_at,
            quantity: after.quantity,
            graceEndsAt,
          },
          previousStatus: before?.status ?? null,
        },
      });
    },
  };
}
