import type pg from "pg";

import { legacyColumnExists } from "@/server/billing/backfill/measure";

import { SeedError } from "./errors";
import { generateOrg, slugPrefix } from "./generate";
import { MAX_SEED } from "./prng";
import { addBatchCounts, Batch, emptyBatchCounts, writeBatch, type BatchCounts } from "./write";

export { SeedError } from "./errors";
export { generateOrg, slugPrefix, SEEDED_AT } from "./generate";
export type { SeedOrg } from "./generate";
export { MAX_SEED } from "./prng";

export interface SeedOptions {
  /** How many organizations to add. */
  orgs: number;
  /** PRNG seed (0 … 2^32-1); default 1. Same seed and count → identical rows. */
  seed?: number;
  /** Host tables and legacy JSONB only: no ledger or cache rows ("added without counting"). */
  legacyOnly?: boolean;
  /** Places the subscriptions' current period; default the real clock. Tests pin it. */
  now?: Date;
  /** Orgs per transaction; default 500. */
  batchSize?: number;
  /** Batches in flight at once (each on its own pooled connection); default 2. */
  concurrency?: number;
}

export interface SeedResult extends Omit<BatchCounts, "organizations"> {
  seed: number;
  /**
   * Whether the legacy `organizations.usage` JSONB was written: only while the column
   * exists (before the cleanup migration 20261124000900_drop_legacy_usage_column).
   */
  legacyUsage: boolean;
  orgs: number;
  slugPrefix: string;
  /** Every row written, all tables. */
  rows: number;
  elapsedMs: number;
}

/** True when the database has no organizations yet: `npm start` seeds only then. */
export async function databaseIsEmpty(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ empty: boolean }>("SELECT NOT EXISTS (SELECT 1 FROM organizations) AS empty");
  return rows[0]?.empty ?? true;
}

/**
 * Adds `orgs` demo organizations (with subscriptions, members, teams, files, the legacy
 * usage JSONB while its column exists and, unless legacyOnly, the ledger and cache rows
 * that match them) to whatever the database holds, as its schema stands: a legacy-only
 * seed works on a database migrated only up to the host tables (a rehearsal's "old app").
 * Batches of orgs are generated and written concurrently, each batch in its own
 * transaction; the rows do not depend on the order batches finish in.
 */
export async function seedDatabase(pool: pg.Pool, options: SeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const seed = options.seed ?? 1;
  const legacyOnly = options.legacyOnly ?? false;
  const now = options.now ?? new Date();
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const prefix = slugPrefix(seed);
  if (!Number.isSafeInteger(options.orgs) || options.orgs < 1) {
    throw new SeedError(`orgs must be a positive integer, got ${options.orgs}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new SeedError(`seed must be an integer from 0 to ${MAX_SEED}, got ${seed}`);
  }

  await refuseRepeatedSeed(pool, seed, prefix);
  const legacyUsage = await legacyColumnExists(pool);

  const total = emptyBatchCounts();
  const batches = Math.ceil(options.orgs / batchSize);
  let nextBatch = 0;
  let failure: unknown;

  const worker = async () => {
    // Stop taking batches once any worker failed: the run fails anyway.
    while (failure === undefined && nextBatch < batches) {
      const from = nextBatch++ * batchSize;
      const until = Math.min(options.orgs, from + batchSize);
      const batch = new Batch(legacyUsage);
      for (let index = from; index < until; index++) batch.add(generateOrg(seed, index, now));
      let client: pg.PoolClient | undefined;
      try {
        client = await pool.connect();
        const counts = await writeBatch(client, batch, legacyOnly);
        addBatchCounts(total, counts);
      } catch (error) {
        failure ??= error;
      } finally {
        client?.release();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batches) }, worker));
  if (failure !== undefined) throw readable(failure, seed);

  const rows = options.orgs + total.subscriptions + total.members + total.teams + total.files + total.ledgerRows + total.cacheRows;
  const { organizations: _written, ...counts } = total;
  return { seed, legacyUsage, orgs: options.orgs, slugPrefix: prefix, ...counts, rows, elapsedMs: performance.now() - started };
}

/**
 * Slugs carry the seed, so different seeds never collide, and the same seed twice would
 * collide on its first org: say so before writing anything, rather than after a batch.
 */
async function refuseRepeatedSeed(pool: pg.Pool, seed: number, prefix: string): Promise<void> {
  let found: string | undefined;
  try {
    const { rows } = await pool.query<{ slug: string }>("SELECT slug FROM organizations WHERE slug LIKE $1 LIMIT 1", [`${prefix}%`]);
    found = rows[0]?.slug;
  } catch (error) {
    throw readable(error, seed);
  }
  if (found !== undefined) throw alreadySeeded(seed, found);
}

function alreadySeeded(seed: number, slug: string): SeedError {
  return new SeedError(`the database already has organizations from --seed ${seed} (e.g. "${slug}"); use another --seed to add more`);
}

/** Maps the PostgreSQL errors a seed can expect to one readable line. */
function readable(error: unknown, seed: number): unknown {
  const pgError = error as { code?: string; detail?: string; table?: string };
  if (pgError.code === "23505") {
    // The up-front check passed, yet a row of this seed exists: a concurrent run of the
    // same seed got there first (or something else took one of its deterministic ids).
    const slug = /\(slug\)=\(([^)]+)\)/.exec(pgError.detail ?? "")?.[1] ?? `${slugPrefix(seed)}…`;
    return alreadySeeded(seed, slug);
  }
  if (pgError.code === "42P01") {
    // Which table is missing says how far the database is migrated.
    const table = /relation "([^"]+)"/.exec((error as Error).message ?? "")?.[1];
    return new SeedError(
      table === "usage_ledger" || table === "usage_cache"
        ? "the database has no billing tables yet: run `npm run migrate` first, or seed with --legacy-only"
        : "the database has no tables yet: run `npm run migrate` first",
    );
  }
  return error;
}
