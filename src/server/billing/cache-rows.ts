import { Prisma } from "@/server/db/client";
import type { RawQuery } from "@/server/db/raw-query";

/**
 * First usage: the cache rows of (org, metric) pairs that have none, holding nothing, inserted
 * in key order by the statement itself (the lock order of every usage write), rows that exist
 * untouched. `last_updated` is `at`, the services' clock — not the database's: under an
 * injected clock (the seeded demo history) a row created by a refused first write must read
 * the same on every run.
 */
export async function createEmptyCacheRows(run: RawQuery, pairs: readonly { orgId: string; metric: string }[], at: Date): Promise<void> {
  await run(Prisma.sql`
    INSERT INTO usage_cache (org_id, metric, count, last_updated)
    SELECT p.org_id, p.metric, 0, ${at}::timestamptz
    FROM unnest(${pairs.map((p) => p.orgId)}::uuid[], ${pairs.map((p) => p.metric)}::text[]) AS p(org_id, metric)
    ORDER BY p.org_id, p.metric
    ON CONFLICT (org_id, metric) DO NOTHING`);
}
