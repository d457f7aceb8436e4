import { performance } from "node:perf_hooks";

import type pg from "pg";

import { BACKFILL_SERVER_OPTIONS, runBackfill } from "@/server/billing/backfill";
import { ledgerInsertCtesText } from "@/server/billing/ledger-insert-sql";
import { createDatabase } from "@/server/db/client";
import { migrate } from "@/server/db/migrator";
import { seedDatabase, type SeedResult } from "@/server/seed";

import { CLEANUP_MIGRATION, migrationBefore } from "../../tools";
import { createBenchDatabase } from "./database";
import type { Profile } from "./options";

/**
 * The backfill at scale: `--apply` of a legacy database (host rows and the legacy JSONB, no
 * ledger, no cache: every org needs its migration rows) of `profile.backfillOrgs` seeded
 * orgs — 10 000 orgs ≈ 1M members, ≈ 200 000 files — in orgs/s, beside a baseline measured
 * on the same data in the same run: ONE `INSERT … SELECT … GROUP BY` computing the same
 * counts into a scratch table.
 *
 * The data is seeded once into a template database, migrated to just before the cleanup
 * (the state a real Phase B runs in); every variant of the apply runs on its own copy
 * (`CREATE DATABASE … TEMPLATE`), so each starts from the same legacy state. Beside the
 * variants, the set-based floor: the rows any apply must write (cache rows created and
 * set, one `migration` ledger row per non-zero count, the diff report), written by plain
 * set-based SQL in one transaction — what is left of the gap once the runner is free.
 */

export interface BackfillVariant {
  name: string;
  batchSize: number;
  concurrency: number;
  orgsPerTransaction: number;
}

export interface BackfillVariantResult extends BackfillVariant {
  ms: number;
  orgsPerSec: number;
  /** The baseline on this variant's own copy and connections (median of 2 runs after a warm-up). */
  baselineMs: number;
  /** orgs/s ÷ that baseline's orgs/s. */
  share: number;
  migrationRows: number;
  /** `--verify` of the applied copy: its time and what still differs (must be 0). */
  verifyMs: number;
  verifyRemaining: number | null;
}

export interface BackfillBenchResult {
  orgs: number;
  members: number;
  teams: number;
  files: number;
  seedSeconds: number;
  /** The server's `jit` setting and whether JIT is available (the measuring statements are slower with it). */
  jit: string;
  /** Over the copies, on the same connections as the apply (the backfill's session settings). */
  baseline: { runsMs: number[]; ms: number; orgsPerSec: number };
  writeFloor: { ms: number; orgsPerSec: number; share: number };
  variants: BackfillVariantResult[];
}

/** The runner's defaults (per-org transactions), then the larger transactions `--orgs-per-tx` allows. */
export const BACKFILL_VARIANTS: BackfillVariant[] = [
  { name: "--orgs-per-tx 1 --batch-size 200 (one org per transaction)", batchSize: 200, concurrency: 4, orgsPerTransaction: 1 },
  { name: "defaults (--orgs-per-tx 50 --batch-size 1000)", batchSize: 1000, concurrency: 4, orgsPerTransaction: 50 },
  { name: "--orgs-per-tx 500 --batch-size 2000 --concurrency 2", batchSize: 2000, concurrency: 2, orgsPerTransaction: 500 },
];

const BASELINE_SQL = `
  INSERT INTO bench_backfill_baseline (org_id, members, teams, storage_bytes)
  SELECT o.id, COALESCE(m.n, 0), COALESCE(t.n, 0), COALESCE(f.n, 0)
  FROM organizations o
  LEFT JOIN (SELECT org_id, count(*) AS n FROM members GROUP BY org_id) m ON m.org_id = o.id
  LEFT JOIN (SELECT org_id, count(*) AS n FROM teams GROUP BY org_id) t ON t.org_id = o.id
  LEFT JOIN (SELECT org_id, sum(size_bytes) AS n FROM stored_files GROUP BY org_id) f ON f.org_id = o.id`;

/** The baseline, `runs` times (the scratch table emptied in between); every run's time. */
async function baseline(pool: pg.Pool, runs: number): Promise<number[]> {
  await pool.query(`CREATE TABLE bench_backfill_baseline (org_id uuid, members bigint, teams bigint, storage_bytes bigint)`);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    await pool.query("TRUNCATE bench_backfill_baseline");
    const started = performance.now();
    await pool.query(BASELINE_SQL);
    times.push(performance.now() - started);
  }
  await pool.query("DROP TABLE bench_backfill_baseline");
  return times;
}

/** The set-based floor: the same rows an apply writes, as plain set-based SQL in one transaction. */
async function writeFloor(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO backfill_runs (mode, batch_size, concurrency, started_by) VALUES ('apply', 0, 1, 'bench: set-based floor') RETURNING id::text`,
    );
    const runId = rows[0]?.id as string;
    const started = performance.now();
    await client.query("BEGIN");
    await client.query(
      `CREATE TEMP TABLE old_counts ON COMMIT DROP AS
       SELECT o.id AS org_id, g.metric,
              COALESCE(CASE g.metric WHEN 'members' THEN m.n WHEN 'teams' THEN t.n ELSE f.n END, 0)::bigint AS old_count
       FROM organizations o CROSS JOIN unnest(ARRAY['members', 'storage_bytes', 'teams']) AS g(metric)
       LEFT JOIN (SELECT org_id, count(*) AS n FROM members GROUP BY org_id) m ON m.org_id = o.id
       LEFT JOIN (SELECT org_id, count(*) AS n FROM teams GROUP BY org_id) t ON t.org_id = o.id
       LEFT JOIN (SELECT org_id, sum(size_bytes) AS n FROM stored_files GROUP BY org_id) f ON f.org_id = o.id`,
    );
    await client.query(
      `INSERT INTO usage_cache (org_id, metric, count) SELECT org_id, metric, 0 FROM old_counts ORDER BY 1, 2 ON CONFLICT DO NOTHING`,
    );
    await client.query(`SELECT 1 FROM usage_cache ORDER BY org_id, metric FOR UPDATE`);
    await client.query(
      `WITH ${ledgerInsertCtesText(
        "ins",
        `SELECT gen_random_uuid(), org_id, metric, old_count, 'migration', 'backfill:' || $1 || ':' || metric, 'backfill:' || $1,
              jsonb_build_object('runId', $1::text, 'oldCount', old_count::text, 'ledgerBefore', '0'), now()
         FROM old_counts WHERE old_count <> 0`,
      )} SELECT count(*) FROM ins`,
      [runId],
    );
    await client.query(
      `UPDATE usage_cache c SET count = x.old_count, last_updated = now() FROM old_counts x WHERE c.org_id = x.org_id AND c.metric = x.metric`,
    );
    await client.query(
      `INSERT INTO backfill_diffs (run_id, org_id, metric, kind, legacy_wrong, cache_wrong, ledger_wrong, legacy_value, old_count,
                                   cache_before, ledger_before, delta_applied, cache_repaired)
       SELECT $1::uuid, org_id, metric, 'ledger_missing', false, false, true, NULL, old_count, NULL, 0, old_count, false
       FROM old_counts WHERE old_count <> 0`,
      [runId],
    );
    await client.query("COMMIT");
    return performance.now() - started;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** A copy of the template, reached with the session settings `npm run backfill` uses (JIT off). */
async function withCopy<T>(template: string, work: (pool: pg.Pool) => Promise<T>, options: { max?: number } = {}): Promise<T> {
  const copy = await createBenchDatabase("billing_bench_backfill", { template });
  const handle = createDatabase(copy.url, {
    max: options.max ?? 8,
    applicationName: "bench-backfill",
    serverOptions: BACKFILL_SERVER_OPTIONS,
  });
  try {
    return await work(handle.pool);
  } finally {
    await handle.close();
    await copy.drop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

export async function backfillBench(profile: Profile, progress: (line: string) => void): Promise<BackfillBenchResult> {
  const orgs = profile.backfillOrgs;
  progress(`backfill: seeding ${orgs.toLocaleString("en-US")} legacy orgs (no ledger) into a template database…`);
  const template = await createBenchDatabase("billing_bench_backfill_template");
  await migrate(template.url, { to: await migrationBefore(CLEANUP_MIGRATION) });
  const seeding = createDatabase(template.url, { max: 3, applicationName: "bench-backfill-seed" });
  let seeded: SeedResult;
  let jit = "?";
  try {
    seeded = await seedDatabase(seeding.pool, { orgs, seed: 6, legacyOnly: true, concurrency: 2 });
    // Settled production tables: statistics and a visibility map (fair to both sides).
    await seeding.pool.query("VACUUM ANALYZE");
    const { rows } = await seeding.pool.query<{ jit: string; available: boolean }>(
      "SELECT current_setting('jit') AS jit, pg_jit_available() AS available",
    );
    jit = rows[0] ? `${rows[0].jit}${rows[0].available ? "" : " (not available on this server)"}` : "?";
  } finally {
    await seeding.close();
  }
  progress(
    `backfill: ${seeded.members.toLocaleString("en-US")} members, ${seeded.files.toLocaleString("en-US")} files in ${(seeded.elapsedMs / 1000).toFixed(1)} s`,
  );

  const baselineRuns: number[] = [];
  const variants: BackfillVariantResult[] = [];
  for (const variant of BACKFILL_VARIANTS) {
    progress(`backfill: --apply, ${variant.name}…`);
    variants.push(
      await withCopy(
        template.name,
        async (pool) => {
          // The baseline on this very copy, before the apply (a warm-up run first, untimed).
          const runs = (await baseline(pool, 3)).slice(1);
          baselineRuns.push(...runs);
          const started = performance.now();
          const apply = await runBackfill(pool, {
            mode: "apply",
            batchSize: variant.batchSize,
            concurrency: variant.concurrency,
            orgsPerTransaction: variant.orgsPerTransaction,
            verifyAfterApply: false,
            startedBy: "npm run bench",
          });
          const ms = performance.now() - started;
          const verifyStarted = performance.now();
          const verify = await runBackfill(pool, { mode: "verify", batchSize: 1000, startedBy: "npm run bench" });
          return {
            ...variant,
            ms,
            orgsPerSec: (apply.orgsScanned / ms) * 1000,
            baselineMs: median(runs),
            share: apply.orgsScanned / ms / (orgs / median(runs)),
            migrationRows: apply.deltasApplied,
            verifyMs: performance.now() - verifyStarted,
            verifyRemaining: verify.remaining,
          };
        },
        { max: variant.concurrency + 4 },
      ),
    );
  }
  progress("backfill: the set-based floor of the same writes…");
  const floorMs = await withCopy(template.name, writeFloor);
  await template.drop();

  const baselineMs = median(baselineRuns);
  const baselineRate = (orgs / baselineMs) * 1000;
  const floorRate = (orgs / floorMs) * 1000;
  return {
    orgs,
    members: seeded.members,
    teams: seeded.teams,
    files: seeded.files,
    seedSeconds: seeded.elapsedMs / 1000,
    jit,
    baseline: { runsMs: baselineRuns, ms: baselineMs, orgsPerSec: baselineRate },
    writeFloor: { ms: floorMs, orgsPerSec: floorRate, share: floorRate / baselineRate },
    variants,
  };
}
