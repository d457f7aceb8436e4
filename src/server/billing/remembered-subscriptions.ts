import type { RawQuery } from "@/server/db/raw-query";

import { readSubscriptionSnapshots, type SubscriptionSnapshot } from "./policy-context";

/** Orgs remembered at most; past it the memory starts again (a read per org, then none). */
const MAX_ORGS = 50_000;

/**
 * The subscriptions incrementMany's one statement computes billing-period windows from,
 * remembered per org between batches so a batch is one round trip, not two. Never trusted:
 * the statement checks that each org's subscription is still exactly the remembered one
 * (usage-batch-write.ts) and writes nothing otherwise, and the batch reads them again — a
 * stale entry costs a read, never a wrong window. Orgs found missing are not remembered.
 */
export class RememberedSubscriptions {
  private readonly byOrg = new Map<string, SubscriptionSnapshot>();

  /** Each existing org of `orgIds` with its subscription; `fresh` reads all of them again. */
  async snapshots(run: RawQuery, orgIds: readonly string[], fresh: boolean): Promise<Map<string, SubscriptionSnapshot>> {
    const unknown = fresh ? [...orgIds] : orgIds.filter((id) => !this.byOrg.has(id));
    if (unknown.length > 0) {
      const read = await readSubscriptionSnapshots(run, unknown);
      for (const id of unknown) {
        const snapshot = read.get(id);
        if (!snapshot) this.byOrg.delete(id);
        else {
          if (this.byOrg.size >= MAX_ORGS && !this.byOrg.has(id)) this.byOrg.clear();
          this.byOrg.set(id, snapshot);
        }
      }
    }
    const known = new Map<string, SubscriptionSnapshot>();
    for (const id of orgIds) {
      const snapshot = this.byOrg.get(id);
      if (snapshot) known.set(id, snapshot);
    }
    return known;
  }
}
