import type pg from "pg";

import type { BillingServices } from "@/server/billing";
import { API_SCOPES } from "@/server/billing/api-keys";
import type { PrismaClient } from "@/server/db/client";

/**
 * The bench's organizations, all on the enterprise plan (members and api_calls unlimited,
 * so consume is allowed): ids are deterministic (`orgId(n)`), so pgbench scripts can name
 * them with an expression of a random number instead of a lookup.
 */

export const SPREAD_ORGS = 200; // n = 1 … 200: the "many orgs" workloads
export const HOT_ORG = 201; // every client on this one
export const SMALL_ORG = 202; // 10 members
export const BIG_ORG = 203; // 100 000 members, 10 000 files
const ALL_ORGS = 203;

export const BIG_MEMBERS = 100_000;
export const BIG_FILES = 10_000;
export const SMALL_MEMBERS = 10;
export const SMALL_FILES = 3;

export const ENTERPRISE_PRODUCT = "pdt_billing_enterprise";

export const orgId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
/** The same id computed by SQL from an integer expression (pgbench scripts). */
export const orgIdSql = (intExpr: string) => `('00000000-0000-4000-8000-' || lpad((${intExpr})::text, 12, '0'))::uuid`;

export const spreadOrg = (i: number) => orgId((i % SPREAD_ORGS) + 1);
export const randomSpreadOrg = () => orgId(1 + Math.floor(Math.random() * SPREAD_ORGS));

/** Organizations, active enterprise subscriptions, and every cache row (count 0, no ledger: no drift). */
export async function createOrgs(pool: pg.Pool): Promise<void> {
  await pool.query(
    `INSERT INTO organizations (id, name, slug)
     SELECT ${orgIdSql("g")}, 'Bench org ' || g, 'bench-org-' || g FROM generate_series(1, $1::int) g`,
    [ALL_ORGS],
  );
  await pool.query(
    `INSERT INTO subscriptions (id, org_id, product_id, status, current_period_start, current_period_end)
     SELECT 'sub_bench_' || g, ${orgIdSql("g")}, $2, 'active', now() - interval '1 day', now() + interval '29 days'
     FROM generate_series(1, $1::int) g`,
    [ALL_ORGS, ENTERPRISE_PRODUCT],
  );
  await pool.query(
    `INSERT INTO usage_cache (org_id, metric, count)
     SELECT o.id, m, 0 FROM organizations o CROSS JOIN unnest(ARRAY['members', 'teams', 'storage_bytes', 'api_calls', 'api_calls_hourly']) m`,
  );
}

/** A real product-app key with every scope, created through ApiKeyService. */
export async function createApiKey(services: BillingServices): Promise<string> {
  const { secret } = await services.apiKeys.create({ name: "bench", scopes: [...API_SCOPES], createdBy: "npm run bench" });
  return secret;
}

/**
 * The host-app rows "the old way" counts (members, stored files) for the small and the big
 * org, and the ledger + cache the new way reads, set through UsageService (reason
 * `migration`) IN THE SAME TRANSACTION as the rows (the Phase C contract: no row change
 * without its count), so cache == ledger == the real counts.
 */
export async function createOrgSizeFixtures(prisma: PrismaClient, pool: pg.Pool, services: BillingServices): Promise<void> {
  for (const [n, members, files] of [
    [SMALL_ORG, SMALL_MEMBERS, SMALL_FILES],
    [BIG_ORG, BIG_MEMBERS, BIG_FILES],
  ] as const) {
    const id = orgId(n);
    await prisma.$transaction(
      async (tx) => {
        const added = await tx.$executeRaw`
          INSERT INTO members (org_id, email, name)
          SELECT ${id}::uuid, 'member' || g || ${`@org${n}.example`}::text, 'Member ' || g FROM generate_series(1, ${members}::int) g`;
        const stored = await tx.$queryRaw<{ bytes: bigint }[]>`
          WITH f AS (
            INSERT INTO stored_files (org_id, name, size_bytes)
            SELECT ${id}::uuid, 'file-' || g || '.bin', (g % 997 + 1) * 4096 FROM generate_series(1, ${files}::int) g
            RETURNING size_bytes)
          SELECT COALESCE(SUM(size_bytes), 0)::bigint AS bytes FROM f`;
        await services.usage.increment(id, "members", BigInt(added), "migration", { actor: "bench", tx });
        await services.usage.increment(id, "storage_bytes", stored[0]?.bytes ?? 0n, "migration", { actor: "bench", tx });
      },
      { timeout: 120_000 },
    );
  }
  // Fair to the old way: fresh statistics and a visibility map, so COUNT(*) can use an
  // index-only scan as it would on a settled production table.
  await pool.query("VACUUM ANALYZE members, stored_files");
}
