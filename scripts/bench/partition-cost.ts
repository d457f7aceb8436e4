import { randomUUID } from "node:crypto";

import pg from "pg";

import { migrate } from "@/server/db/migrator";

import { CONSUME_ALSO_METRIC, CONSUME_SQL, INCREMENT_SQL } from "./baseline";
import { createBenchDatabase } from "./database";
import { combine, inRounds, window, type Throughput } from "./measure";
import { createOrgs, randomSpreadOrg } from "./setup";
import type { BenchContext } from "./workloads";

/**
 * What issue #16's ledger costs the hot path (its goal: consume/increment throughput within
 * 10 % of before, in the same run). Two databases on the same server: one as the ledger was
 * before #16 (a plain table with its UNIQUE (org_id, idempotency_key) the ON CONFLICT arbiter,
 * no tx_id column and its BRIN index), written by the statements of then; and today's (the
 * ledger partitioned by month, the key claimed in usage_idempotency_keys by the one writer
 * fragment, tx_id a column default), written by today's bare statements (baseline.ts). Bare pg
 * on both sides, interleaved round by round at one concurrency, so the ratio is the schema's.
 */

/** consume's statement before #16 (baseline.ts's at 20261124000800): the ledger's unique index decides the key. */
const LEGACY_CONSUME_SQL = `
WITH prior AS (
  SELECT id FROM usage_ledger WHERE org_id = $1::uuid AND idempotency_key = $2
), locked AS (
  SELECT c.metric, c.count FROM usage_cache c
  WHERE c.org_id = $1::uuid AND c.metric IN ($4, $9) AND NOT EXISTS (SELECT 1 FROM prior)
  ORDER BY c.metric FOR UPDATE
), own AS (
  INSERT INTO usage_ledger (org_id, metric, delta, reason, idempotency_key, actor, metadata)
  SELECT $1::uuid, $4, $3::bigint, $6, $2, $7, $8::jsonb
  FROM locked WHERE locked.metric = $4 AND ($5::bigint IS NULL OR locked.count + $3::bigint <= $5::bigint)
  ON CONFLICT (org_id, idempotency_key) DO NOTHING
  RETURNING id, org_id, metric, delta, timestamp
), extra AS (
  INSERT INTO usage_ledger (org_id, metric, delta, reason, idempotency_key, actor, metadata, timestamp)
  SELECT own.org_id, $9, own.delta, $6, NULL, $7, $8::jsonb, own.timestamp FROM own
  RETURNING id, org_id, metric, delta, timestamp
), ins AS MATERIALIZED (
  SELECT * FROM own UNION ALL SELECT * FROM extra
), up AS (
  UPDATE usage_cache c SET count = c.count + ins.delta, last_updated = ins.timestamp
  FROM ins WHERE c.org_id = ins.org_id AND c.metric = ins.metric
  RETURNING c.count
)
SELECT (SELECT id FROM own) AS id, (SELECT count(*) FROM up) AS updated`;

const LEGACY_INCREMENT_SQL = `
WITH locked AS (
  SELECT 1 FROM usage_cache WHERE org_id = $1::uuid AND metric = $2 FOR UPDATE
), ins AS (
  INSERT INTO usage_ledger (org_id, metric, delta, reason, idempotency_key, actor, metadata)
  SELECT $1::uuid, $2, $3::bigint, $4, $5, $6, $7::jsonb WHERE (SELECT count(*) FROM locked) >= 0
  ON CONFLICT (org_id, idempotency_key) DO NOTHING
  RETURNING id, org_id, metric, delta, timestamp
), upd AS (
  UPDATE usage_cache c SET count = c.count + ins.delta, last_updated = ins.timestamp
  FROM ins WHERE c.org_id = ins.org_id AND c.metric = ins.metric
  RETURNING c.count
)
SELECT ins.id, (SELECT count FROM upd) AS new_count FROM ins`;

/** usage_ledger rebuilt as it was before #16 (20261124000100 + the history indexes of 20261124000600). */
const LEGACY_LEDGER_DDL = `
DROP TABLE usage_ledger;
DROP TABLE usage_idempotency_keys;
CREATE TABLE usage_ledger (
  id UUID NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  org_id UUID NOT NULL REFERENCES organizations(id) ON DELETE RESTRICT ON UPDATE CASCADE,
  metric TEXT NOT NULL, delta BIGINT NOT NULL, reason TEXT NOT NULL,
  "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  idempotency_key TEXT, actor TEXT NOT NULL, metadata JSONB NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX usage_ledger_org_id_idempotency_key_key ON usage_ledger (org_id, idempotency_key);
CREATE INDEX usage_ledger_org_id_timestamp_idx ON usage_ledger (org_id, "timestamp");
CREATE INDEX usage_ledger_timestamp_id_idx ON usage_ledger ("timestamp", id);
CREATE INDEX usage_ledger_reason_timestamp_id_idx ON usage_ledger (reason, "timestamp", id);
CREATE TRIGGER usage_ledger_append_only BEFORE UPDATE OR DELETE ON usage_ledger FOR EACH ROW EXECUTE FUNCTION usage_ledger_refuse_change();
CREATE TRIGGER usage_ledger_no_truncate BEFORE TRUNCATE ON usage_ledger FOR EACH STATEMENT EXECUTE FUNCTION usage_ledger_refuse_change();`;

export interface PartitionCostResult {
  clients: number;
  consume: { before: Throughput; today: Throughput };
  increment: { before: Throughput; today: Throughput };
}

const consumeArgs = (org: string) => [org, randomUUID(), "1", "api_calls", null, "api_call", "bench-partitions", "{}", CONSUME_ALSO_METRIC];
const incrementArgs = (org: string) => [org, "api_calls", "1", "api_call", randomUUID(), "bench-partitions", "{}"];

/** On the run's database (`ctx.url`, orgs created) and a copy of its schema as it was before #16; a pool of `clients` connections each. */
export async function partitionCost(ctx: BenchContext, clients = 8): Promise<PartitionCostResult> {
  const legacy = await createBenchDatabase("billing_bench_legacy");
  await migrate(legacy.url);
  const before = new pg.Pool({ connectionString: legacy.url, max: clients, application_name: "bench-partitions-before" });
  const pool = new pg.Pool({ connectionString: ctx.url, max: clients, application_name: "bench-partitions-today" });
  try {
    await before.query(LEGACY_LEDGER_DDL);
    await createOrgs(before);
    const { profile } = ctx;
    const measure = (target: pg.Pool, name: string, sql: string, args: (org: string) => unknown[]) => (round: number) =>
      window({
        clients,
        warmupMs: round === 0 ? profile.warmupMs : profile.rewarmMs,
        durationMs: profile.roundMs,
        op: () => target.query({ name: `partitions_${name}`, text: sql, values: args(randomSpreadOrg()) }),
      });
    const samples = await inRounds(profile.rounds, [
      ["consume before", measure(before, "consume_before", LEGACY_CONSUME_SQL, consumeArgs)],
      ["consume today", measure(pool, "consume_today", CONSUME_SQL, consumeArgs)],
      ["increment before", measure(before, "increment_before", LEGACY_INCREMENT_SQL, incrementArgs)],
      ["increment today", measure(pool, "increment_today", INCREMENT_SQL, incrementArgs)],
    ]);
    const figure = (name: string) => combine(samples.get(name) ?? []);
    const result = {
      clients,
      consume: { before: figure("consume before"), today: figure("consume today") },
      increment: { before: figure("increment before"), today: figure("increment today") },
    };
    const share = (pair: { before: Throughput; today: Throughput }) =>
      `${((pair.today.opsPerSec / pair.before.opsPerSec) * 100).toFixed(0)} %`;
    ctx.progress(
      `partitioned ledger + keys table: consume keeps ${share(result.consume)}, increment ${share(result.increment)} of the throughput before #16`,
    );
    return result;
  } finally {
    await Promise.all([before.end(), pool.end()]);
    await legacy.drop();
  }
}
