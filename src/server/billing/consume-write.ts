import type { RawQuery } from "@/server/db/raw-query";

import type { Metric } from "./catalogue";
import type { LedgerEntry } from "./ledger-entry";
import type { Decision } from "./policy";
import type { OrgPolicyContext } from "./policy-context";

/**
 * What a consume's write is given and answers, whichever way it writes: one statement for an
 * action that counts one metric (consume-one.ts), one for one that counts several
 * (consume-several.ts). EntitlementService decides before and after; these only write.
 */

/** A consume's answer: the decision, the ledger row it wrote (or replayed), and whether it was a replay. */
export type ConsumeResult = Decision & {
  entry?: LedgerEntry;
  replayed: boolean;
};

export interface ConsumeWrite {
  orgId: string;
  /** Signed, the same for every metric the action counts. */
  delta: bigint;
  reason: string;
  idempotencyKey: string;
  actor: string;
  metadata: Record<string, unknown>;
  now: Date;
  /** As read before the write (subscription, overrides); its usage and windows are replaced by the locked rows'. */
  context: OrgPolicyContext;
  /** The action's decision (the binding metric's) on a context. */
  decide: (context: OrgPolicyContext) => Decision;
  /** The stored row the key already wrote: the replay's answer, or a CONFLICT thrown. */
  replayOf: (stored: LedgerEntry) => ConsumeResult;
  /** Records a denial on `run` (the write's transaction, when it has one). */
  recordDenial: (run: RawQuery, metric: Metric | null, decision: Decision) => Promise<void>;
}
