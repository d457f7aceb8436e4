import type { Metric } from "./catalogue";

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
