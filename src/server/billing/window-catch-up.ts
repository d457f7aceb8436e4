import { Prisma, type PrismaClient } from "@/server/db/client";
import { viaPrisma } from "@/server/db/raw-query";

import { METRIC_KIND, METRICS, type Metric } from "./catalogue";
import { readSubscriptions } from "./policy-context";
import { currentWindow } from "./usage-window";
import { startWindows, type StartedWindow, type WindowTarget } from "./window-reset";

/**
 * The one-off catch-up (`npm run windows:catch-up`): every period counter's cache row is
 * brought into its current window with the reset its next write would make (window-reset.ts)
 * — for the orgs that never write (a free org whose lifetime count stands at its limit, rows
 * not written since windows existed). Idempotent: a row already in its window is left alone,
 * so a second run does nothing. A dry run makes the same resets in transactions it rolls
 * back, so what it reports is exactly what a real run would do at that moment.
 */

const PERIOD_METRICS = METRICS.filter((m) => METRIC_KIND[m] === "period_counter");

export const CATCH_UP_ACTOR = "windows:catch-up";

export interface CatchUpOptions {
  now: Date;
  dryRun?: boolean;
  /** Only this org's rows. */
  orgId?: string;
  /** Rows per transaction. */
  batchSize?: number;
}

export interface CatchUpReport {
  dryRun: boolean;
  /** Period-counter rows looked at. */
  scanned: number;
  /** Rows moved into their current window (with a reset row or, when nothing was recorded before it, without). */
  moved: StartedWindow[];
}

interface CacheRowWindow {
  org_id: string;
  metric: Metric;
  window_start: Date | null;
}

/** Rolls a dry run's transaction back once it has seen what the resets did. */
class DryRun extends Error {
  constructor(readonly started: StartedWindow[]) {
    super("dry run");
  }
}

export async function catchUpWindows(client: PrismaClient, options: CatchUpOptions): Promise<CatchUpReport> {
  const batchSize = options.batchSize ?? 500;
  const run = viaPrisma(client);
  const report: CatchUpReport = { dryRun: options.dryRun === true, scanned: 0, moved: [] };
  let after: { orgId: string; metric: string } | null = null;
  for (;;) {
    const rows: CacheRowWindow[] = await run<CacheRowWindow>(Prisma.sql`
      SELECT org_id::text, metric, window_start FROM usage_cache
      WHERE metric = ANY(${PERIOD_METRICS}::text[])
        ${options.orgId ? Prisma.sql`AND org_id = ${options.orgId}::uuid` : Prisma.empty}
        ${after ? Prisma.sql`AND (org_id, metric) > (${after.orgId}::uuid, ${after.metric})` : Prisma.empty}
      ORDER BY org_id, metric LIMIT ${batchSize}`);
    const last = rows.at(-1);
    if (!last) return report;
    after = { orgId: last.org_id, metric: last.metric };
    report.scanned += rows.length;

    const subscriptions = await readSubscriptions(run, [...new Set(rows.map((r) => r.org_id))]);
    const targets: WindowTarget[] = [];
    for (const row of rows) {
      const window = currentWindow(row.metric, subscriptions.get(row.org_id) ?? null, options.now);
      if (window && (!row.window_start || row.window_start < window.start)) {
        targets.push({ orgId: row.org_id, metric: row.metric, windowStart: window.start });
      }
    }
    if (targets.length === 0) continue;
    // startWindows re-checks each row under its lock: a write that moved it meanwhile wins.
    const started = await client
      .$transaction(
        async (tx) => {
          const moved = await startWindows(viaPrisma(tx), targets, { actor: CATCH_UP_ACTOR, at: options.now });
          if (options.dryRun) throw new DryRun(moved);
          return moved;
        },
        { timeout: 60_000 },
      )
      .catch((error: unknown) => {
        if (error instanceof DryRun) return error.started;
        throw error;
      });
    report.moved.push(...started);
  }
}
