import { randomUUID } from "node:crypto";

import type pg from "pg";

import { DECIDE_USAGE_ALERTS } from "@/server/billing/usage-alerts/alert-sql";

import { CONSUME_ALSO_METRIC, CONSUME_SQL, INCREMENT_SQL } from "./baseline";
import { combine, inRounds, window, type Throughput } from "./measure";
import { orgId, randomSpreadOrg, SPREAD_ORGS } from "./setup";
import type { BenchContext } from "./workloads";

/**
 * What deciding usage alerts costs the hot path (issue #12): the bare consume and increment
 * statements (baseline.ts) as they were before alerts, against the same statements with the
 * service's alert fragment appended (`DECIDE_USAGE_ALERTS`, the text every writer appends),
 * on orgs that each have thresholds configured (the plan's percents plus three absolute ones
 * of their own). Bare pg on both sides, interleaved round by round at one concurrency, so the
 * ratio is the fragment's cost alone.
 */

const ALERTS = DECIDE_USAGE_ALERTS.sql;

/** The fragment needs `ins` (its rows) and `upd` (the cache rows it moved, with their window). */
function withAlerts(sql: string, updName: "upd" | "up"): string {
  const rewritten = sql
    .replace(`), ${updName} AS (`, "), upd AS (")
    .replaceAll(`FROM ${updName})`, "FROM upd)")
    .replace("RETURNING c.count\n)", `RETURNING c.org_id, c.metric, c.count, c.window_start\n)${ALERTS}`);
  if (!rewritten.includes("alert_moves")) throw new Error("alert-cost: the baseline statement no longer has the expected shape");
  return rewritten;
}

const CONSUME_ALERTS_SQL = withAlerts(CONSUME_SQL, "up");
const INCREMENT_ALERTS_SQL = withAlerts(INCREMENT_SQL, "upd");

export interface AlertCostResult {
  clients: number;
  orgsWithThresholds: number;
  consume: { without: Throughput; with: Throughput };
  increment: { without: Throughput; with: Throughput };
}

/** Three absolute thresholds on api_calls per spread org, far above any count the bench reaches: judged on every write. */
async function configureThresholds(pool: pg.Pool): Promise<void> {
  await pool.query(
    `INSERT INTO usage_alert_thresholds (org_id, metric, kind, value, created_by)
     SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'api_calls', 'absolute', v, 'bench'
     FROM generate_series(1, $1::int) n, unnest(ARRAY[1000000000, 2000000000, 4000000000]::bigint[]) v
     ON CONFLICT DO NOTHING`,
    [SPREAD_ORGS],
  );
}

const consumeArgs = (org: string) => [org, randomUUID(), "1", "api_calls", null, "api_call", "bench-alerts", "{}", CONSUME_ALSO_METRIC];
const incrementArgs = (org: string) => [org, "api_calls", "1", "api_call", randomUUID(), "bench-alerts", "{}"];

export async function alertCost(ctx: BenchContext, pool: pg.Pool, clients = 8): Promise<AlertCostResult> {
  await configureThresholds(pool);
  if (!(await pool.query("SELECT 1 FROM usage_alert_thresholds WHERE org_id = $1", [orgId(1)])).rowCount) {
    throw new Error("alert-cost: thresholds were not configured");
  }
  const { profile } = ctx;
  const measure = (name: string, sql: string, args: (org: string) => unknown[]) => (round: number) =>
    window({
      clients,
      warmupMs: round === 0 ? profile.warmupMs : profile.rewarmMs,
      durationMs: profile.roundMs,
      op: () => pool.query({ name: `alerts_${name}`, text: sql, values: args(randomSpreadOrg()) }),
    });
  const samples = await inRounds(profile.rounds, [
    ["consume", measure("consume", CONSUME_SQL, consumeArgs)],
    ["consume+alerts", measure("consume_alerts", CONSUME_ALERTS_SQL, consumeArgs)],
    ["increment", measure("increment", INCREMENT_SQL, incrementArgs)],
    ["increment+alerts", measure("increment_alerts", INCREMENT_ALERTS_SQL, incrementArgs)],
  ]);
  const figure = (name: string) => combine(samples.get(name) ?? []);
  const result = {
    clients,
    orgsWithThresholds: SPREAD_ORGS,
    consume: { without: figure("consume"), with: figure("consume+alerts") },
    increment: { without: figure("increment"), with: figure("increment+alerts") },
  };
  const share = (pair: { without: Throughput; with: Throughput }) =>
    `${((pair.with.opsPerSec / pair.without.opsPerSec) * 100).toFixed(0)} %`;
  ctx.progress(`usage alerts' SQL: consume keeps ${share(result.consume)}, increment ${share(result.increment)} of its throughput`);
  return result;
}
