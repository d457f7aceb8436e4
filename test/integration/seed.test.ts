import { randomInt } from "node:crypto";

import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { runBackfill } from "@/server/billing/backfill";
import { PLANS } from "@/server/billing/catalogue";
import { migrate } from "@/server/db/migrator";
import { databaseIsEmpty, generateOrg, seedDatabase, SeedError, slugPrefix, type SeedResult } from "@/server/seed";

import { CLEANUP_MIGRATION, HOST_TABLES_MIGRATION, migrationBefore } from "../../tools";
import { createScratchDatabase, endPool, tableNames, type ScratchDatabase } from "../helpers/databases";
import { testDatabase } from "../helpers/db";

// The shared test database holds other tests' orgs too: every assertion here is scoped to
// the orgs of a seed value drawn at random for this run (their slugs start with s<seed>-).

const TWO_POW_31 = 2n ** 31n;
const NOW = new Date();

/** A seed no other run or test is likely to use (slugs and ids derive from it). */
const freshSeed = () => randomInt(1_000, 2 ** 32 - 1);

interface TrueCounts {
  org_id: string;
  slug: string;
  members: string;
  teams: string;
  storage_bytes: string;
}

interface WithLegacy extends TrueCounts {
  usage: { members: number; teams: number; storage_bytes: string };
}

/**
 * COUNT(*)/SUM per seeded org straight from the host tables; with `legacy`, next to the
 * legacy JSONB (only before the cleanup migration drops its column).
 */
async function trueCounts(pool: pg.Pool, seed: number): Promise<TrueCounts[]>;
async function trueCounts(pool: pg.Pool, seed: number, legacy: "with legacy usage"): Promise<WithLegacy[]>;
async function trueCounts(pool: pg.Pool, seed: number, legacy?: string): Promise<TrueCounts[]> {
  const { rows } = await pool.query<TrueCounts>(
    `SELECT o.id AS org_id, o.slug${legacy ? ", o.usage" : ""},
            (SELECT COUNT(*) FROM members m WHERE m.org_id = o.id)::text AS members,
            (SELECT COUNT(*) FROM teams t WHERE t.org_id = o.id)::text AS teams,
            (SELECT COALESCE(SUM(size_bytes), 0) FROM stored_files f WHERE f.org_id = o.id)::text AS storage_bytes
     FROM organizations o WHERE o.slug LIKE $1 ORDER BY o.slug`,
    [`${slugPrefix(seed)}%`],
  );
  return rows;
}

describe("seedDatabase into the shared test database", () => {
  const pool = () => testDatabase().pool;
  const seed = freshSeed();
  let result: SeedResult;

  beforeAll(async () => {
    // Several small batches on two connections: the path a real seed takes.
    result = await seedDatabase(pool(), { orgs: 60, seed, now: NOW, batchSize: 16, concurrency: 2 });
  });

  it("writes what it reports", async () => {
    const counts = await trueCounts(pool(), seed);
    expect(counts).toHaveLength(60);
    expect(result.orgs).toBe(60);
    // The test database is migrated to the latest migration: the cleanup dropped the column.
    expect(result.legacyUsage).toBe(false);
    expect(result.members).toBe(counts.reduce((sum, c) => sum + Number(c.members), 0));
    expect(result.teams).toBe(counts.reduce((sum, c) => sum + Number(c.teams), 0));
    expect(result.storageBytes).toBe(counts.reduce((sum, c) => sum + BigInt(c.storage_bytes), 0n));
    expect(result.members).toBeGreaterThan(60);
  });

  it("keeps usage_cache == SUM(usage_ledger.delta) == the true count for every seeded org and metric", async () => {
    const counts = await trueCounts(pool(), seed);
    const { rows } = await pool().query<{
      org_id: string;
      metric: string;
      cached: string;
      ledger_sum: string | null;
      ledger_rows: string;
    }>(
      `SELECT c.org_id, c.metric, c.count::text AS cached,
              (SELECT SUM(delta) FROM usage_ledger l WHERE l.org_id = c.org_id AND l.metric = c.metric)::text AS ledger_sum,
              (SELECT COUNT(*) FROM usage_ledger l WHERE l.org_id = c.org_id AND l.metric = c.metric
                 AND l.reason = 'seed' AND l.actor = 'seed' AND l.metadata = '{}'::jsonb)::text AS ledger_rows
       FROM usage_cache c JOIN organizations o ON o.id = c.org_id WHERE o.slug LIKE $1`,
      [`${slugPrefix(seed)}%`],
    );
    const byOrg = new Map(counts.map((c) => [c.org_id, c]));
    const subscribed = await pool().query<{ org_id: string }>(
      `SELECT DISTINCT s.org_id FROM subscriptions s JOIN organizations o ON o.id = s.org_id WHERE o.slug LIKE $1`,
      [`${slugPrefix(seed)}%`],
    );
    // Three gauges per org, plus api_calls for each org with a subscription.
    expect(rows).toHaveLength(60 * 3 + subscribed.rowCount!);
    expect(result.cacheRows).toBe(rows.length);
    expect(result.ledgerRows).toBe(rows.length);
    for (const row of rows) {
      expect(row.ledger_sum, `${row.org_id} ${row.metric}`).toBe(row.cached);
      expect(row.ledger_rows).toBe("1");
      const truth = byOrg.get(row.org_id);
      if (!truth) throw new Error(`cache row for an org that is not this seed's: ${row.org_id}`);
      if (row.metric === "api_calls") expect(BigInt(row.cached)).toBeGreaterThan(0n);
      else expect(row.cached, `${truth.slug} ${row.metric}`).toBe(truth[row.metric as "members" | "teams" | "storage_bytes"]);
    }
  });

  it("has an org whose storage passes 2^31 bytes, read back exactly as a BigInt", async () => {
    const counts = await trueCounts(pool(), seed);
    const big = counts.filter((c) => BigInt(c.storage_bytes) > TWO_POW_31);
    expect(big.length).toBeGreaterThan(0);
    const first = big[0]!;
    // Through Prisma too: BIGINT comes back as a BigInt, the same value as the exact SQL sum
    // (and as the generator's own total), not a rounded double.
    const { _sum } = await testDatabase().prisma.storedFile.aggregate({
      where: { orgId: first.org_id },
      _sum: { sizeBytes: true },
    });
    expect(typeof _sum.sizeBytes).toBe("bigint");
    expect(_sum.sizeBytes).toBe(BigInt(first.storage_bytes));
    const generated = Array.from({ length: 60 }, (_, i) => generateOrg(seed, i, NOW)).find((o) => o.id === first.org_id);
    expect(generated?.totals.storageBytes).toBe(_sum.sizeBytes);
    const cached = await testDatabase().prisma.usageCache.findUnique({
      where: { orgId_metric: { orgId: first.org_id, metric: "storage_bytes" } },
    });
    expect(cached?.count).toBe(_sum.sizeBytes);
  });

  it("gives subscribed orgs a current monthly period on a catalogue product", async () => {
    const { rows } = await pool().query<{
      id: string;
      product_id: string;
      status: string;
      current_period_start: Date;
      current_period_end: Date;
    }>(`SELECT s.* FROM subscriptions s JOIN organizations o ON o.id = s.org_id WHERE o.slug LIKE $1`, [`${slugPrefix(seed)}%`]);
    const products = new Set(PLANS.flatMap((p) => (p.dodoProductId ? [p.dodoProductId] : [])));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(60);
    for (const s of rows) {
      expect(s.id).toMatch(/^sub_[0-9A-Za-z]{24}$/);
      expect(products.has(s.product_id)).toBe(true);
      expect(["active", "on_hold", "cancelled", "expired"]).toContain(s.status);
      expect(s.current_period_start.getTime()).toBeLessThanOrEqual(NOW.getTime());
      expect(s.current_period_end.getTime()).toBeGreaterThan(NOW.getTime());
      const days = (s.current_period_end.getTime() - s.current_period_start.getTime()) / 86_400_000;
      expect(days).toBeGreaterThanOrEqual(28);
      expect(days).toBeLessThanOrEqual(31);
    }
  });

  it("refuses the same seed again with one readable error and writes nothing", async () => {
    const before = await trueCounts(pool(), seed);
    const error = await seedDatabase(pool(), { orgs: 5, seed, now: NOW }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeedError);
    expect((error as SeedError).message).toMatch(new RegExp(`already has organizations from --seed ${seed}`));
    expect((error as SeedError).message).not.toMatch(/\n/);
    expect(await trueCounts(pool(), seed)).toEqual(before);
  });

  it("maps a unique violation during the write to the same readable error, rolling the batch back", async () => {
    const other = freshSeed();
    // Take the id the seed's first org will want, under a slug the up-front check cannot see.
    const taken = generateOrg(other, 0, NOW).id;
    await pool().query(`INSERT INTO organizations (id, name, slug) VALUES ($1, 'Squatter', $2)`, [taken, `squatter-${other}`]);
    const error = await seedDatabase(pool(), { orgs: 3, seed: other, now: NOW }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeedError);
    expect((error as SeedError).message).toMatch(new RegExp(`--seed ${other}`));
    expect(await trueCounts(pool(), other)).toHaveLength(0);
  });

  it("with legacyOnly writes host rows and legacy JSONB but no ledger or cache rows", async () => {
    const legacySeed = freshSeed();
    const legacy = await seedDatabase(pool(), { orgs: 12, seed: legacySeed, now: NOW, legacyOnly: true });
    expect(legacy.ledgerRows).toBe(0);
    expect(legacy.cacheRows).toBe(0);
    const counts = await trueCounts(pool(), legacySeed);
    expect(counts).toHaveLength(12);
    expect(counts.reduce((sum, c) => sum + Number(c.members), 0)).toBe(legacy.members);
    const { rows } = await pool().query<{ ledger: string; cache: string }>(
      `SELECT (SELECT COUNT(*) FROM usage_ledger WHERE org_id = ANY($1::uuid[]))::text AS ledger,
              (SELECT COUNT(*) FROM usage_cache WHERE org_id = ANY($1::uuid[]))::text AS cache`,
      [counts.map((c) => c.org_id)],
    );
    expect(rows[0]).toEqual({ ledger: "0", cache: "0" });
  });
});

/** The legacy JSONB agrees with the true counts for most orgs and is off by a few for some. */
function expectLegacyDrift(counts: WithLegacy[]): void {
  const agrees = (c: WithLegacy) =>
    String(c.usage.members) === c.members && String(c.usage.teams) === c.teams && c.usage.storage_bytes === c.storage_bytes;
  for (const c of counts) {
    expect(typeof c.usage.storage_bytes).toBe("string");
    expect(c.usage.storage_bytes).toMatch(/^\d+$/);
  }
  const wrong = counts.filter((c) => !agrees(c));
  expect(wrong.length).toBeGreaterThan(0);
  expect(wrong.length).toBeLessThan(counts.length / 3);
  // "Off by a few", as a missed increment would leave it.
  for (const c of wrong) expect(Math.abs(c.usage.members - Number(c.members))).toBeLessThanOrEqual(3);
}

describe("the legacy usage JSONB, on databases migrated to before the cleanup", () => {
  const databases: ScratchDatabase[] = [];
  const pools: pg.Pool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map(endPool));
    await Promise.all(databases.map((d) => d.drop()));
  });

  async function databaseMigratedTo(to: string): Promise<{ url: string; pool: pg.Pool }> {
    const database = await createScratchDatabase(inject("adminUrl"), "billing_seed");
    databases.push(database);
    await migrate(database.url, { to });
    const pool = new pg.Pool({ connectionString: database.url, max: 3 });
    pools.push(pool);
    return { url: database.url, pool };
  }

  it("a legacy-only seed of the host tables alone (the old app) writes the JSONB, wrong for some orgs, and counts nothing", async () => {
    const { url, pool } = await databaseMigratedTo(HOST_TABLES_MIGRATION);
    expect(await tableNames(url)).not.toContain("usage_ledger");
    const seed = freshSeed();
    const result = await seedDatabase(pool, { orgs: 60, seed, now: NOW, legacyOnly: true, batchSize: 16 });
    expect(result).toMatchObject({ legacyUsage: true, ledgerRows: 0, cacheRows: 0, orgs: 60 });
    const counts = await trueCounts(pool, seed, "with legacy usage");
    expect(counts).toHaveLength(60);
    expect(counts.reduce((sum, c) => sum + Number(c.members), 0)).toBe(result.members);
    expectLegacyDrift(counts);
  });

  it("a seed with the ledger needs the billing tables: refused with one line, nothing written", async () => {
    const { pool } = await databaseMigratedTo(HOST_TABLES_MIGRATION);
    const seed = freshSeed();
    const error = await seedDatabase(pool, { orgs: 3, seed, now: NOW }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeedError);
    expect((error as SeedError).message).toBe(
      "the database has no billing tables yet: run `npm run migrate` first, or seed with --legacy-only",
    );
    expect(await trueCounts(pool, seed)).toHaveLength(0);
  });

  it("just before the cleanup a seed writes the JSONB beside the ledger; the cleanup drops it and the seed goes on without it", async () => {
    const { url, pool } = await databaseMigratedTo(await migrationBefore(CLEANUP_MIGRATION));
    const seed = freshSeed();
    const before = await seedDatabase(pool, { orgs: 40, seed, now: NOW });
    expect(before).toMatchObject({ legacyUsage: true, orgs: 40 });
    expect(before.ledgerRows).toBeGreaterThan(0);
    expectLegacyDrift(await trueCounts(pool, seed, "with legacy usage"));

    // The runbook's order, which the cleanup's own guard enforces: a whole-database verify
    // passes first (the seed wrote the ledger and the cache with the host rows).
    const verify = await runBackfill(pool, { mode: "verify", concurrency: 1, startedBy: "test" });
    expect(verify).toMatchObject({ status: "completed", orgsScanned: 40, remaining: 0 });
    const cleanup = await migrate(url);
    expect(cleanup.applied).toEqual([CLEANUP_MIGRATION]);
    const { rows } = await pool.query(
      `SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'organizations' AND column_name = 'usage'`,
    );
    expect(rows).toHaveLength(0);
    // The host rows are untouched by the cleanup.
    expect((await trueCounts(pool, seed)).reduce((sum, c) => sum + Number(c.members), 0)).toBe(before.members);

    const after = await seedDatabase(pool, { orgs: 5, seed: freshSeed(), now: NOW, legacyOnly: true });
    expect(after).toMatchObject({ legacyUsage: false, orgs: 5, ledgerRows: 0 });
  });
});

describe("seedDatabase determinism", () => {
  const databases: ScratchDatabase[] = [];
  afterAll(async () => {
    await Promise.all(databases.map((d) => d.drop()));
  });

  /** Every seeded table, as JSON rows in a stable order. */
  async function dump(url: string): Promise<Record<string, unknown[]>> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables: Record<string, string> = {
        organizations: "id",
        subscriptions: "id",
        members: "id",
        teams: "id",
        stored_files: "id",
        usage_ledger: "id",
        usage_cache: "org_id, metric",
      };
      const out: Record<string, unknown[]> = {};
      for (const [table, order] of Object.entries(tables)) {
        // tx_id is the writing transaction's id (the rollups' bookkeeping): the server's, not the seed's.
        const { rows } = await client.query<{ row: unknown }>(`SELECT to_jsonb(t) - 'tx_id' AS row FROM ${table} t ORDER BY ${order}`);
        out[table] = rows.map((r) => r.row);
      }
      return out;
    } finally {
      await client.end();
    }
  }

  it("writes identical rows for the same seed, whatever the batching, into two fresh databases", async () => {
    const seed = freshSeed();
    const [a, b] = await Promise.all([0, 1].map(() => createScratchDatabase(inject("adminUrl"), "billing_seed")));
    databases.push(a!, b!);
    await Promise.all([migrate(a!.url), migrate(b!.url)]);

    const run = async (url: string, batching: { batchSize: number; concurrency: number }) => {
      const p = new pg.Pool({ connectionString: url, max: 3 });
      try {
        expect(await databaseIsEmpty(p)).toBe(true);
        const r = await seedDatabase(p, { orgs: 30, seed, now: NOW, ...batching });
        expect(await databaseIsEmpty(p)).toBe(false);
        return r;
      } finally {
        await p.end();
      }
    };
    const [ra, rb] = await Promise.all([run(a!.url, { batchSize: 7, concurrency: 3 }), run(b!.url, { batchSize: 500, concurrency: 1 })]);
    expect({ ...ra, elapsedMs: 0 }).toEqual({ ...rb, elapsedMs: 0 });

    const [dumpA, dumpB] = await Promise.all([dump(a!.url), dump(b!.url)]);
    expect(dumpA.organizations).toHaveLength(30);
    expect(dumpA.usage_ledger!.length).toBeGreaterThan(0);
    expect(dumpA).toEqual(dumpB);
  });
});

describe("generateOrg", () => {
  it("is a pure function of (seed, index), with v4 UUIDs and fixed timestamps", () => {
    const first = generateOrg(7, 3, new Date("2030-05-17T12:00:00Z"));
    const again = generateOrg(7, 3, new Date("2030-05-17T12:00:00Z"));
    expect(again).toEqual(first);
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(first.id).toMatch(v4);
    for (const m of first.members) expect(m.id).toMatch(v4);
    // Only the subscription period follows the clock.
    const later = generateOrg(7, 3, new Date("2031-01-02T00:00:00Z"));
    expect({ ...later, subscription: null, ledger: [] }).toEqual({ ...first, subscription: null, ledger: [] });
  });

  it("has the requested shape over many orgs: ~100 members, ~members/8 teams, ~20 files, ~40% free, ~10% drift", () => {
    const orgs = Array.from({ length: 3000 }, (_, i) => generateOrg(1, i, NOW));
    const mean = (f: (o: (typeof orgs)[number]) => number) => orgs.reduce((s, o) => s + f(o), 0) / orgs.length;
    const members = mean((o) => o.members.length);
    expect(members).toBeGreaterThan(60);
    expect(members).toBeLessThan(160);
    expect(mean((o) => o.teams.length) / members).toBeCloseTo(1 / 8, 1);
    expect(mean((o) => o.files.length)).toBeGreaterThan(14);
    expect(mean((o) => o.files.length)).toBeLessThan(28);
    // Most orgs are small: the median is a handful of members.
    const sorted = orgs.map((o) => o.members.length).sort((x, y) => x - y);
    expect(sorted[1500]).toBeLessThanOrEqual(10);
    expect(mean((o) => (o.subscription ? 0 : 1))).toBeGreaterThan(0.3);
    expect(mean((o) => (o.subscription ? 0 : 1))).toBeLessThan(0.5);
    expect(mean((o) => (o.legacyDrifted ? 1 : 0))).toBeGreaterThan(0.06);
    expect(mean((o) => (o.legacyDrifted ? 1 : 0))).toBeLessThan(0.14);
    const statuses = new Set(orgs.flatMap((o) => (o.subscription ? [o.subscription.status] : [])));
    expect([...statuses].sort()).toEqual(["active", "cancelled", "expired", "on_hold"]);
    for (const o of orgs) expect(new Set(o.members.map((m) => m.email)).size).toBe(o.members.length);
  });

  it("gives org 0 of any seed more than 2^31 bytes of storage", () => {
    for (const seed of [0, 1, 99, 2 ** 32 - 1]) {
      expect(generateOrg(seed, 0, NOW).totals.storageBytes).toBeGreaterThan(TWO_POW_31);
    }
  });
});
