import { performance } from "node:perf_hooks";

import type pg from "pg";

import { listLedger } from "@/server/billing/ledger-history";
import type { PrismaClient } from "@/server/db/client";

import { summarize, type Latency } from "./measure";

/**
 * Finance's ledger page at scale: the ledger grown to `rows` entries (set-based, with the
 * cache moved by the same amounts so the invariant holds), then keyset pages timed
 * in-process — the server's time for one page, newest first, deep in the history, and
 * filtered by org and by a rare reason.
 */
export interface LedgerPagesResult {
  ledgerRows: number;
  pageSize: number;
  calls: number;
  first: Latency;
  deep: Latency;
  byOrg: Latency;
  rareReason: Latency;
}

export async function growLedger(pool: pg.Pool, rows: number, progress: (line: string) => void): Promise<void> {
  progress(`ledger pages: growing the ledger by ${rows.toLocaleString("en-US")} rows…`);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // Spread over the existing orgs and over the last 30 days; 1 in 1 000 is a manual adjustment.
    await client.query(
      `WITH orgs AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total FROM organizations)
       INSERT INTO usage_ledger (org_id, metric, delta, reason, actor, timestamp)
       SELECT o.id, 'api_calls', 1, CASE WHEN g % 1000 = 0 THEN 'manual_adjustment' ELSE 'api_call' END, 'bench-ledger',
              now() - make_interval(secs => g * (2592000.0 / $1))
       FROM generate_series(1, $1::int) g JOIN orgs o ON o.n = g % o.total`,
      [rows],
    );
    await client.query(
      `INSERT INTO usage_cache (org_id, metric, count)
       SELECT org_id, 'api_calls', 0 FROM usage_ledger WHERE actor = 'bench-ledger' GROUP BY org_id
       ON CONFLICT (org_id, metric) DO NOTHING`,
    );
    await client.query(
      `UPDATE usage_cache c SET count = c.count + t.n
       FROM (SELECT org_id, count(*) AS n FROM usage_ledger WHERE actor = 'bench-ledger' GROUP BY org_id) t
       WHERE c.org_id = t.org_id AND c.metric = 'api_calls'`,
    );
    await client.query("COMMIT");
    await client.query("ANALYZE usage_ledger");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

async function time(calls: number, run: () => Promise<unknown>): Promise<Latency> {
  for (let i = 0; i < 10; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await run();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

export async function ledgerPages(prisma: PrismaClient, pool: pg.Pool, calls: number): Promise<LedgerPagesResult> {
  const pageSize = 50;
  const { rows } = await pool.query<{ n: string; mid: Date; id: string; org: string }>(
    `SELECT (SELECT count(*) FROM usage_ledger)::text AS n, l.timestamp AS mid, l.id::text, l.org_id::text AS org
     FROM usage_ledger l ORDER BY l.timestamp, l.id OFFSET (SELECT count(*) / 2 FROM usage_ledger) LIMIT 1`,
  );
  const mid = rows[0];
  if (!mid) throw new Error("ledger pages: the ledger is empty");
  const deepCursor = { timestamp: mid.mid, id: mid.id };
  return {
    ledgerRows: Number(mid.n),
    pageSize,
    calls,
    first: await time(calls, () => listLedger(prisma, {}, { limit: pageSize })),
    deep: await time(calls, () => listLedger(prisma, {}, { cursor: deepCursor, limit: pageSize })),
    byOrg: await time(calls, () => listLedger(prisma, { orgId: mid.org }, { cursor: deepCursor, limit: pageSize })),
    rareReason: await time(calls, () => listLedger(prisma, { reason: "manual_adjustment" }, { cursor: deepCursor, limit: pageSize })),
  };
}
