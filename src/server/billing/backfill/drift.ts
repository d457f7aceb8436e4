import { Prisma, type PrismaClient } from "@/server/db/client";
import { pgError } from "@/server/db/pg-errors";

import { ledgerTailCtes } from "../rollup/ledger-tail";
import { viewRuns, type RunView } from "./dashboard";

/**
 * Would `npm run backfill -- --verify` pass right now? It passes when, for every organization
 * and gauge, cache == SUM(ledger) == old count (COUNT members, COUNT teams, SUM file sizes);
 * the legacy JSONB is not judged. This measures exactly that, for all organizations, in ONE
 * set-based statement (hash aggregates over members, teams and files; the ledger's sums are
 * the exact rollups plus the unfolded tail, as the integrity check reads them — a scan of
 * every ledger row took 1.4 s at 10 million rows), so it is one consistent snapshot — but it
 * scans the old tables whole. It runs under a statement timeout: when
 * the database is too large to answer in time, the answer says so (`measured: false`) and
 * the Overview falls back to the last run's figures instead of holding the page.
 */

export const DRIFT_TIMEOUT_MS = 2_000;

export type DriftMeasure =
  | {
      measured: true;
      /** (org, gauge) pairs where cache, SUM(ledger) and the old count do not all agree. */
      mismatches: number;
      /** (org, gauge) pairs compared: organizations × 3. */
      pairs: number;
      elapsedMs: number;
      checkedAt: Date;
    }
  | { measured: false; timeoutMs: number; checkedAt: Date };

const GAUGES = Prisma.sql`ARRAY['members', 'teams', 'storage_bytes']::text[]`;

export async function measureDrift(prisma: PrismaClient, options: { timeoutMs?: number } = {}): Promise<DriftMeasure> {
  const timeoutMs = Math.max(1, Math.floor(options.timeoutMs ?? DRIFT_TIMEOUT_MS));
  const started = performance.now();
  try {
    const [row] = await prisma.$transaction(
      async (tx) => {
        // SET cannot take a bind parameter; timeoutMs is an integer we computed.
        await tx.$executeRawUnsafe(`SET LOCAL statement_timeout = ${timeoutMs}`);
        const tail = await ledgerTailCtes(tx, "org_id, metric, delta");
        return tx.$queryRaw<{ pairs: bigint; mismatches: bigint }[]>(Prisma.sql`
          WITH old AS (
            SELECT org_id, 'members'::text AS metric, count(*)::numeric AS n FROM members GROUP BY org_id
            UNION ALL SELECT org_id, 'teams', count(*)::numeric FROM teams GROUP BY org_id
            UNION ALL SELECT org_id, 'storage_bytes', sum(size_bytes)::numeric FROM stored_files GROUP BY org_id
          ), ${tail},
          tail_sums AS (
            SELECT org_id, metric, sum(delta) AS n FROM ledger_tail WHERE metric = ANY(${GAUGES}) GROUP BY org_id, metric
          ), ledger AS (
            SELECT COALESCE(r.org_id, t.org_id) AS org_id, COALESCE(r.metric, t.metric) AS metric,
                   COALESCE(r.total, 0) + COALESCE(t.n, 0) AS n
            FROM (SELECT org_id, metric, total FROM usage_rollup_totals WHERE metric = ANY(${GAUGES})) r
            FULL OUTER JOIN tail_sums t ON t.org_id = r.org_id AND t.metric = r.metric
          )
          SELECT count(*) AS pairs,
                 count(*) FILTER (WHERE COALESCE(c.count, 0) <> COALESCE(l.n, 0) OR COALESCE(l.n, 0) <> COALESCE(o.n, 0)) AS mismatches
          FROM organizations org
          CROSS JOIN unnest(${GAUGES}) AS g(metric)
          LEFT JOIN old o ON o.org_id = org.id AND o.metric = g.metric
          LEFT JOIN ledger l ON l.org_id = org.id AND l.metric = g.metric
          LEFT JOIN usage_cache c ON c.org_id = org.id AND c.metric = g.metric`);
      },
      // The transaction's own limit must outlast the statement's.
      { timeout: timeoutMs + 5_000 },
    );
    return {
      measured: true,
      mismatches: Number(row?.mismatches ?? 0),
      pairs: Number(row?.pairs ?? 0),
      elapsedMs: Math.round(performance.now() - started),
      checkedAt: new Date(),
    };
  } catch (error) {
    if (pgError(error)?.code === "57014") return { measured: false, timeoutMs, checkedAt: new Date() };
    throw error;
  }
}

export interface BackfillOverview {
  /** The newest run of any mode; null before the first. */
  lastRun: RunView | null;
  /** The newest completed run that measured what remains (a verify, or an apply's closing check). */
  lastVerified: RunView | null;
  drift: DriftMeasure;
}

/** The Overview card: the last run, the last measured figure, and the drift right now. */
export async function backfillOverview(prisma: PrismaClient, options: { timeoutMs?: number } = {}): Promise<BackfillOverview> {
  const [last, verified, drift] = await Promise.all([
    prisma.backfillRun.findFirst({ orderBy: [{ startedAt: "desc" }, { id: "desc" }] }),
    prisma.backfillRun.findFirst({
      where: { status: "completed", remaining: { not: null }, orgPrefix: null },
      orderBy: [{ finishedAt: "desc" }, { id: "desc" }],
    }),
    measureDrift(prisma, options),
  ]);
  const [lastRun = null, lastVerified = null] = await Promise.all([
    last ? viewRuns(prisma, [last]).then((v) => v[0]) : null,
    verified ? viewRuns(prisma, [verified]).then((v) => v[0]) : null,
  ]);
  return { lastRun, lastVerified, drift };
}
