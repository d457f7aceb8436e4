import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

import { foldLedger } from "@/server/billing/rollup/fold";
import type { PrismaClient } from "@/server/db/client";
import { LEDGER_MONTHS_AHEAD } from "@/server/db/ledger-months";
import { seedDatabase } from "@/server/seed";
import { timestamp } from "@/server/seed/copy";

/**
 * The data set of issue #16, built fast: `orgs` organizations from the project's seed, then
 * `ledgerRows` `api_calls` ledger rows spread over the last `days` days in time order (as a
 * real ledger is appended), `bigOrgRows` of them on one org, loaded with COPY (secondary
 * indexes dropped for the load and rebuilt after, as a restore would), the cache moved by
 * the same amounts (cache == SUM(ledger)), and the rollups folded as the server folds them
 * (foldLedger). `checkScaleData` proves the result exact by rescanning.
 */

export interface ScaleSize {
  orgs: number;
  ledgerRows: number;
  bigOrgRows: number;
  days: number;
}

export interface LoadedScaleData {
  bigOrgId: string;
  /** Ledger rows in the table (the seed's own included). */
  ledgerRows: number;
  seconds: { seed: number; copy: number; indexes: number; cache: number; fold: number; analyze: number };
}

/** Actor of every loaded row: the cache update and the exactness checks find them by it. */
export const SCALE_ACTOR = "bench-scale";
/** Rows per COPY transaction: the fold then sees several finished transactions, as in production. */
const ROWS_PER_COPY = 1_000_000;
const DAY_MS = 86_400_000;

export async function loadScaleData(
  pool: pg.Pool,
  prisma: PrismaClient,
  size: ScaleSize,
  progress: (line: string) => void,
): Promise<LoadedScaleData> {
  const seconds = { seed: 0, copy: 0, indexes: 0, cache: 0, fold: 0, analyze: 0 };
  const lap = async <T>(key: keyof typeof seconds, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await work();
    seconds[key] = (performance.now() - t0) / 1000;
    return result;
  };
  progress(`dashboard at scale: seeding ${size.orgs.toLocaleString("en-US")} organizations (npm run seed's code)…`);
  await lap("seed", () => seedDatabase(pool, { orgs: size.orgs, seed: 16 }));
  const { rows: orgRows } = await pool.query<{ id: string }>("SELECT id::text FROM organizations ORDER BY id");
  const ids = orgRows.map((r) => r.id);
  const bigOrgId = ids[0];
  if (!bigOrgId || ids.length < 2) throw new Error("dashboard at scale: needs at least 2 organizations");
  const others = ids.slice(1);

  progress(
    `dashboard at scale: COPY of ${size.ledgerRows.toLocaleString("en-US")} ledger rows (${size.bigOrgRows.toLocaleString("en-US")} on one org)…`,
  );
  const indexes = await lap("copy", async () => {
    const dropped = await dropSecondaryIndexes(pool);
    const end = Math.floor(Date.now() / 1000) * 1000;
    const start = end - size.days * DAY_MS;
    // Every month the rows (the seed's and these) fall in gets its partition first, as the
    // partitioning migration gives the months an existing ledger's rows are in (the rest
    // would all go to DEFAULT). The oldest month is read first: a month's creation moves its
    // rows out of DEFAULT, which a scan of the ledger in the same statement would hold open.
    const { rows: oldest } = await pool.query<{ at: Date | null }>(`SELECT min("timestamp") AS at FROM usage_ledger`);
    const from = oldest[0]?.at && oldest[0].at.getTime() < start ? oldest[0].at : new Date(start);
    await pool.query(`SELECT usage_ledger_ensure_months(now(), $1, date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC')::date)`, [
      LEDGER_MONTHS_AHEAD,
      from,
    ]);
    for (let from = 0; from < size.ledgerRows; from += ROWS_PER_COPY) {
      const until = Math.min(size.ledgerRows, from + ROWS_PER_COPY);
      const client = await pool.connect();
      try {
        const sql = `COPY usage_ledger (org_id, metric, delta, reason, "timestamp", actor) FROM STDIN`;
        await pipeline(Readable.from(ledgerText(from, until, size, start, end, bigOrgId, others)), client.query(copyFrom(sql)));
      } finally {
        client.release();
      }
      progress(`  ${until.toLocaleString("en-US")} rows`);
    }
    return dropped;
  });
  progress(`dashboard at scale: rebuilding ${indexes.length} indexes…`);
  await lap("indexes", async () => {
    const client = await pool.connect();
    try {
      await client.query("SET maintenance_work_mem = '512MB'");
      for (const definition of indexes) await client.query(definition);
    } finally {
      client.release();
    }
  });
  progress("dashboard at scale: moving the cache by the loaded rows…");
  await lap("cache", async () => {
    await pool.query(
      `INSERT INTO usage_cache (org_id, metric, count)
       SELECT o.id, 'api_calls', 0 FROM organizations o ON CONFLICT (org_id, metric) DO NOTHING`,
    );
    await pool.query(
      `UPDATE usage_cache c SET count = c.count + t.n
       FROM (SELECT org_id, SUM(delta) AS n FROM usage_ledger WHERE actor = $1 GROUP BY org_id) t
       WHERE c.org_id = t.org_id AND c.metric = 'api_calls'`,
      [SCALE_ACTOR],
    );
  });
  progress("dashboard at scale: folding the rollups (foldLedger)…");
  await lap("fold", async () => {
    // The first fold's bound is the oldest running transaction: repeat until nothing is left.
    for (let i = 0; i < 5; i++) {
      const result = await foldLedger(prisma);
      if (!result.folded) break;
    }
  });
  await lap("analyze", () => pool.query("VACUUM ANALYZE usage_ledger, usage_cache, usage_daily, usage_rollup_totals, organizations"));
  const { rows } = await pool.query<{ n: string }>("SELECT count(*)::text AS n FROM usage_ledger");
  return { bigOrgId, ledgerRows: Number(rows[0]?.n ?? 0), seconds };
}

/** COPY text, one row per line, in time order; row i is the big org's when it falls on the big org's even spread. */
function* ledgerText(
  from: number,
  until: number,
  size: ScaleSize,
  start: number,
  end: number,
  bigOrgId: string,
  others: string[],
): Generator<string> {
  const step = (end - start) / size.ledgerRows;
  const tail = `\tapi_calls\t1\tapi_call\t`;
  let lines: string[] = [];
  for (let i = from; i < until; i++) {
    const big = Math.floor(((i + 1) * size.bigOrgRows) / size.ledgerRows) > Math.floor((i * size.bigOrgRows) / size.ledgerRows);
    const org = big ? bigOrgId : (others[(i * 7919) % others.length] as string);
    lines.push(`${org}${tail}${timestamp(Math.floor(start + i * step))}\t${SCALE_ACTOR}\n`);
    if (lines.length === 4096) {
      yield lines.join("");
      lines = [];
    }
  }
  if (lines.length) yield lines.join("");
}

/** Drops usage_ledger's indexes other than its primary key; returns their definitions to rebuild them. */
async function dropSecondaryIndexes(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string; definition: string }>(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     WHERE x.indrelid = 'usage_ledger'::regclass AND NOT x.indisprimary
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)`,
  );
  for (const r of rows) await pool.query(`DROP INDEX "${r.name}"`);
  // A partitioned table's index is defined `ON ONLY` the parent (its partitions' indexes are
  // attached one by one); rebuilt that way it would stay INVALID with no partition indexed.
  return rows.map((r) => r.definition.replace(/ ON ONLY /, " ON "));
}

export interface ScaleDataCheck {
  /** (org, metric) pairs whose cache differs from SUM(ledger). */
  cacheMismatches: number;
  /** usage_daily rows that differ from a GROUP BY of the ledger (either side missing counts). */
  dailyMismatches: number;
  /** usage_rollup_totals rows that differ from a GROUP BY of the ledger. */
  totalsMismatches: number;
  /** usage_daily_totals rows (across orgs) that differ from a GROUP BY of the ledger. */
  dailyAllOrgsMismatches: number;
  /** Ledger rows not folded yet (the rescans above compare folded rows only). */
  tailRows: number;
}

/** Rescans the ledger: the cache, usage_daily, usage_daily_totals and usage_rollup_totals must all equal it. */
export async function checkScaleData(pool: pg.Pool): Promise<ScaleDataCheck> {
  const { rows } = await pool.query<{ cache: string; daily: string; totals: string; daily_all_orgs: string; tail: string }>(
    `WITH state AS (SELECT through_tx_id AS through FROM usage_rollup_state WHERE id = 1),
     folded AS MATERIALIZED (
       SELECT org_id, metric, reason, delta, (timestamp AT TIME ZONE 'UTC')::date AS day FROM usage_ledger
       WHERE tx_id IS NULL OR tx_id < (SELECT through FROM state)
     ),
     ledger AS (SELECT org_id, metric, SUM(delta) AS total FROM usage_ledger GROUP BY 1, 2),
     daily AS (SELECT org_id, metric, day, reason, SUM(delta) AS total, count(*) AS entries FROM folded GROUP BY 1, 2, 3, 4),
     totals AS (SELECT org_id, metric, SUM(delta) AS total, count(*) AS entries FROM folded GROUP BY 1, 2),
     daily_all_orgs AS (SELECT metric, day, reason, SUM(total) AS total, SUM(entries) AS entries FROM daily GROUP BY 1, 2, 3)
     SELECT
       (SELECT count(*) FROM usage_cache c FULL JOIN ledger l USING (org_id, metric)
        WHERE COALESCE(c.count, 0) <> COALESCE(l.total, 0))::text AS cache,
       (SELECT count(*) FROM usage_daily d FULL JOIN daily r USING (org_id, metric, day, reason)
        WHERE d.total IS DISTINCT FROM r.total OR d.entries IS DISTINCT FROM r.entries)::text AS daily,
       (SELECT count(*) FROM usage_rollup_totals t FULL JOIN totals r USING (org_id, metric)
        WHERE t.total IS DISTINCT FROM r.total OR t.entries IS DISTINCT FROM r.entries)::text AS totals,
       (SELECT count(*) FROM usage_daily_totals t FULL JOIN daily_all_orgs r USING (metric, day, reason)
        WHERE t.total IS DISTINCT FROM r.total OR t.entries IS DISTINCT FROM r.entries)::text AS daily_all_orgs,
       (SELECT count(*) FROM usage_ledger WHERE tx_id >= (SELECT through FROM state))::text AS tail`,
  );
  const r = rows[0];
  return {
    cacheMismatches: Number(r?.cache ?? -1),
    dailyMismatches: Number(r?.daily ?? -1),
    totalsMismatches: Number(r?.totals ?? -1),
    dailyAllOrgsMismatches: Number(r?.daily_all_orgs ?? -1),
    tailRows: Number(r?.tail ?? -1),
  };
}
