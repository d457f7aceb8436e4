import type { Metric } from "./catalogue";
import { BillingError } from "./errors";

/** One immutable ledger row, as the domain and the API return it. */
export interface LedgerEntry {
  id: string;
  orgId: string;
  metric: Metric;
  delta: bigint;
  reason: string;
  timestamp: Date;
  idempotencyKey: string | null;
  actor: string;
  metadata: Record<string, unknown>;
}

/** The snake_case shape raw SQL returns for `usage_ledger` columns. */
export interface LedgerRow {
  id: string;
  org_id: string;
  metric: string;
  delta: bigint;
  reason: string;
  timestamp: Date;
  idempotency_key: string | null;
  actor: string;
  metadata: Record<string, unknown> | null;
}

export function toLedgerEntry(row: LedgerRow): LedgerEntry {
  return {
    id: row.id,
    orgId: row.org_id,
    metric: row.metric as Metric,
    delta: BigInt(row.delta),
    reason: row.reason,
    timestamp: row.timestamp,
    idempotencyKey: row.idempotency_key,
    actor: row.actor,
    metadata: row.metadata ?? {},
  };
}

export const LEDGER_COLUMNS = "id, org_id, metric, delta, reason, timestamp, idempotency_key, actor, metadata";

/** What one ledger write does: the part of it an idempotency key stands for. */
export interface LedgerWork {
  metric: string;
  /** Signed: `member.remove` is −1, not 1. */
  delta: bigint;
}

/**
 * README invariant 3 in one place, for every write procedure (`increment`, `incrementMany`,
 * `consume`): an idempotency key names ONE piece of work per organization. A repeat that
 * would write the same metric and the same signed delta as the stored row is a replay of it,
 * whichever procedure wrote it (consume `api.call` ×2 and increment `api_calls` +2 are the
 * same work); anything else reusing the key is refused, so a caller's key bug cannot pass
 * silently as a success that recorded something other than what was asked. Reason, actor
 * and metadata are not compared: they describe the work, they are not the work.
 *
 * Returns the CONFLICT to throw (or, in a batch, the reason to reject the event with), or
 * undefined when the repeat is the same work.
 */
export function keyReuseConflict(
  stored: LedgerWork & { id?: string | null },
  repeat: LedgerWork,
  idempotencyKey: string,
): BillingError | undefined {
  if (stored.metric === repeat.metric && stored.delta === repeat.delta) return undefined;
  return new BillingError(
    "CONFLICT",
    "idempotency_key_reused",
    `Idempotency key "${idempotencyKey}" was already used for ${stored.delta} ${stored.metric}; this request asks for ${repeat.delta} ${repeat.metric}`,
    stored.id ? { entryId: stored.id } : undefined,
  );
}
