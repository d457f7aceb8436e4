import type { Tx } from "@/server/db/tx";

import { entitlementSnapshot, type EntitlementSnapshot } from "../entitlement-snapshot";
import { loadPolicyContext } from "../policy-context";
import { insertEvent } from "./insert-event";

/**
 * `entitlements.changed`: emitted in the transaction of a change to what an org may do — its
 * plan, subscription status, grace, a limit override, its features — and only when that
 * actually changed. The caller reads the org's entitlements before its write (`before`) and
 * calls `emitIfChanged` after it, in the same transaction; usage moving is not an entitlement
 * change (the usage events say that), so counts, windows and the read time are left out of
 * the comparison. The payload is the org's new snapshot (entitlement-snapshot.ts) as read in
 * that transaction.
 */

/** What counts as "the entitlements": the snapshot without usage and time. */
function entitlementKey(s: EntitlementSnapshot): string {
  return JSON.stringify({
    plan: s.plan,
    status: s.subscriptionStatus,
    grace: s.graceEndsAt?.toISOString() ?? null,
    metrics: s.metrics.map((m) => [m.metric, m.limit?.toString() ?? null, m.limitKind, m.overridden]),
    features: s.features.map((f) => [f.feature, f.enabled]),
  });
}

async function readSnapshot(tx: Tx, orgId: string, now: Date): Promise<EntitlementSnapshot | null> {
  const context = await loadPolicyContext(tx, orgId, now);
  return context && entitlementSnapshot(context, now);
}

export interface EntitlementWatch {
  /** Emits `entitlements.changed` when the org's entitlements differ from those read before; returns the event id or null. */
  emitIfChanged(): Promise<string | null>;
}

/** Reads an org's entitlements now, in `tx`, to compare with after the caller's write. */
export async function watchEntitlements(tx: Tx, orgId: string, clock: () => Date = () => new Date()): Promise<EntitlementWatch> {
  const before = await readSnapshot(tx, orgId, clock());
  return {
    async emitIfChanged() {
      const after = await readSnapshot(tx, orgId, clock());
      if (!after) return null;
      if (before && entitlementKey(before) === entitlementKey(after)) return null;
      const { orgId: _org, ...payload } = after;
      return insertEvent(tx, { type: "entitlements.changed", orgId, payload: { ...payload } });
    },
  };
}
