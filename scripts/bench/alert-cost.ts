import { randomUUID } from "node:crypto";

import type pg from "pg";

import {
  BAND_COLUMNS,
  BAND_FORGOTTEN_SET,
  inBandSql,
  refreshAlertBands,
  STALE_BANDS_COLUMN,
  type StaleBand,
} from "@/server/billing/usage-alerts/alert-band";
import { DECIDE_USAGE_ALERTS, MOVED_ROW_RETURNING } from "@/server/billing/usage-alerts/alert-sql";
import { Prisma } from "@/server/db/client";
import { viaPool } from "@/server/db/raw-query";

import { CONSUME_ALSO_METRIC, CONSUME_SQL, INCREMENT_SQL } from "./baseline";
import { combine, inRounds, window, type Throughput } from "./measure";
import { orgId, randomSpreadOrg, SPREAD_ORGS } from "./setup";
import type { BenchContext } from "./workloads";

/**
 * What deciding usage alerts costs the hot path (issue #12): the bare consume and increment
 * statements (baseline.ts) as they were before alerts, against the same statements written
 * the way the service writes them (row-write-sql.ts): a LEAN statement that writes only while
 * the locked rows stay in their alert band (alert-band.ts), and when it refuses, the FULL
 * statement with the deciding SQL (`DECIDE_USAGE_ALERTS`) and the band's refresh. On orgs
 * that each have thresholds configured (the plan's percents plus three absolute ones of their
 * own). Bare pg on both sides, interleaved round by round at one concurrency, so the ratio is
 * the alerts' cost alone.
 */

const SET = "count = c.count + ins.delta, last_updated = ins.timestamp";

/** `sql` with each [from, to] replaced, refusing a baseline whose text no longer has the expected shape. */
function rewrite(sql: string, edits: [string, string][]): string {
  return edits.reduce((text, [from, to]) => {
    if (!text.includes(from)) throw new Error(`alert-cost: the baseline statement no longer contains ${JSON.stringify(from)}`);
    return text.replace(from, to);
  }, sql);
}

/** A column more in the statement's final SELECT. */
function answering(sql: string, column: string): string {
  const at = sql.lastIndexOf("\nSELECT ");
  return `${sql.slice(0, at)}\nSELECT ${column}, ${sql.slice(at + "\nSELECT ".length)}`;
}

/** Every held row (alias h) stays in its band after adding $3 at now(). */
const HELD_IN_BAND = `NOT EXISTS (SELECT 1 FROM held h WHERE NOT ${inBandSql("h", Prisma.raw("h.count + $3::bigint"), Prisma.raw("now()")).sql})`;
const REFUSED = "(EXISTS (SELECT 1 FROM held) AND NOT EXISTS (SELECT 1 FROM locked)) AS band_refused";

/** The full statement: every moved row decides, forgets its band, and is named for the refresh. */
function full(sql: string, updName: "upd" | "up"): string {
  return answering(
    rewrite(sql, [
      [`), ${updName} AS (`, "), upd AS ("],
      [SET, SET + BAND_FORGOTTEN_SET.sql],
      ["RETURNING c.count\n)", `RETURNING ${MOVED_ROW_RETURNING.sql}\n)${DECIDE_USAGE_ALERTS.sql}`],
    ]).replaceAll(`FROM ${updName})`, "FROM upd)"),
    STALE_BANDS_COLUMN.sql,
  );
}

const CONSUME_LEAN_SQL = answering(
  rewrite(CONSUME_SQL, [
    ["), locked AS (\n  SELECT c.metric, c.count FROM", `), held AS (\n  SELECT c.metric, c.count, ${BAND_COLUMNS} FROM`],
    ["ORDER BY c.metric FOR UPDATE\n)", `ORDER BY c.metric FOR UPDATE\n), locked AS (SELECT * FROM held WHERE ${HELD_IN_BAND})`],
  ]),
  REFUSED,
);
const INCREMENT_LEAN_SQL = answering(
  rewrite(INCREMENT_SQL, [
    ["WITH locked AS (\n  SELECT 1 FROM", `WITH held AS (\n  SELECT count, ${BAND_COLUMNS} FROM`],
    ["FOR UPDATE\n)", `FOR UPDATE\n), locked AS (SELECT * FROM held WHERE ${HELD_IN_BAND})`],
  ]),
  REFUSED,
);
const CONSUME_FULL_SQL = full(CONSUME_SQL, "up");
const INCREMENT_FULL_SQL = full(INCREMENT_SQL, "upd");

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
  const run = viaPool(pool);
  const query = (name: string, text: string, values: unknown[]) =>
    pool.query<{ band_refused?: boolean; stale_bands?: StaleBand[] | null }>({ name: `alerts_${name}`, text, values });
  const measure = (name: string, op: (org: string) => Promise<unknown>) => (round: number) =>
    window({
      clients,
      warmupMs: round === 0 ? profile.warmupMs : profile.rewarmMs,
      durationMs: profile.roundMs,
      op: () => op(randomSpreadOrg()),
    });
  /** As the service: lean; when it refuses, the full statement, then the band's refresh. */
  const withAlerts = (name: string, lean: string, fullSql: string, args: (org: string) => unknown[]) => async (org: string) => {
    const values = args(org);
    const first = await query(`${name}_lean`, lean, values);
    if (!first.rows[0]?.band_refused) return;
    const { rows } = await query(`${name}_full`, fullSql, values);
    await refreshAlertBands(run, rows[0]?.stale_bands, new Date());
  };
  const samples = await inRounds(profile.rounds, [
    ["consume", measure("consume", (org) => query("consume", CONSUME_SQL, consumeArgs(org)))],
    ["consume+alerts", measure("consume_alerts", withAlerts("consume", CONSUME_LEAN_SQL, CONSUME_FULL_SQL, consumeArgs))],
    ["increment", measure("increment", (org) => query("increment", INCREMENT_SQL, incrementArgs(org)))],
    ["increment+alerts", measure("increment_alerts", withAlerts("increment", INCREMENT_LEAN_SQL, INCREMENT_FULL_SQL, incrementArgs))],
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
