import { Prisma } from "@/server/db/client";
import type { RawQuery } from "@/server/db/raw-query";

import { toLedgerEntry, type LedgerEntry, type LedgerRow } from "./ledger-entry";

/** What a replay of a key whose ledger row was archived answers with for actor and metadata. */
export const ARCHIVED_ENTRY_ACTOR = "archived";

/**
 * The ledger row an idempotency key wrote for an org, if any (on the pool or through Prisma):
 * found through the key's claim, which outlives the row. When the row's month was archived,
 * the entry is rebuilt from the claim (id, metric, delta, reason, time; actor "archived",
 * metadata `{ archived: true }`: the rest is in the month's archive file).
 */
export async function readByKey(run: RawQuery, orgId: string, idempotencyKey: string): Promise<LedgerEntry | undefined> {
  const rows = await run<LedgerRow>(Prisma.sql`
    SELECT k.ledger_id AS id, k.org_id, k.metric, k.delta, k.reason, k.ledger_timestamp AS timestamp, k.idempotency_key,
           COALESCE(l.actor, ${ARCHIVED_ENTRY_ACTOR}) AS actor, COALESCE(l.metadata, '{"archived": true}'::jsonb) AS metadata
    FROM usage_idempotency_keys k
    LEFT JOIN usage_ledger l ON l.id = k.ledger_id AND l.timestamp = k.ledger_timestamp
    WHERE k.org_id = ${orgId}::uuid AND k.idempotency_key = ${idempotencyKey}`);
  return rows[0] && toLedgerEntry(rows[0]);
}
