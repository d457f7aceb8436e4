import { randomUUID } from "node:crypto";
import { baselineBatch, type BatchColumns, baselineConsume, baselineIncrement } from "./baseline";
import { type Level, withLevel } from "./level";
import { throughput, timed } from "./measure";
import type { Profile } from "./options";
import { runPgbench, scripts } from "./pgbench";
import type { BatchResult, ThroughputRow } from "./results";
import { HOT_ORG, orgId, randomSpreadOrg } from "./setup";

/** Throughput workloads: single consume / increment, the hot row, batched ingest. */

export interface BenchContext {
  url: string;
  apiKey: string;
  profile: Profile;
  pgbench: boolean;
  progress(line: string): void;
}

type Op = ThroughputRow["op"];
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** One op at one concurrency: bare pg, pgbench, service, HTTP — back to back. */
async function measureOp(ctx: BenchContext, level: Level, op: Op, options: { hot: boolean; http: boolean }): Promise<ThroughputRow> {
  const org = options.hot ? () => orgId(HOT_ORG) : randomSpreadOrg;
  const { clients } = level;
  let denied = 0;
  const run = (call: (client: number) => Promise<unknown>) =>
    throughput({ clients, warmupMs: ctx.profile.warmupMs, durationMs: ctx.profile.durationMs, op: call }).then((t) => t.opsPerSec);
  const label = `${options.hot ? "hot-row " : ""}${op} ×${clients}`;

  const baseline = await run(async () => {
    if (op === "increment") return baselineIncrement(level.pool, org());
    if (!(await baselineConsume(level.pool, org()))) denied++;
  });
  ctx.progress(`${label}: bare pg ${fmt(baseline)} ops/s`);

  let pgbench: number | null = null;
  if (ctx.pgbench) {
    const result = await runPgbench({ url: ctx.url, clients, seconds: ctx.profile.pgbenchSeconds, script: op === "consume" ? scripts.consume(options.hot) : scripts.increment() });
    if (result.failed > 0) ctx.progress(`${label}: pgbench reported ${result.failed} failed transactions`);
    pgbench = result.tps;
    ctx.progress(`${label}: pgbench ${fmt(pgbench)} tps`);
  }

  const service = await run(async () => {
    if (op === "increment") return level.services.usage.increment(org(), "api_calls", 1n, "api_call", { idempotencyKey: randomUUID() });
    const result = await level.services.entitlements.consume(org(), "api.call", { idempotencyKey: randomUUID() });
    if (!result.allowed) denied++;
  });
  ctx.progress(`${label}: service ${fmt(service)} ops/s (${((service / baseline) * 100).toFixed(0)} % of bare pg)`);

  let http: number | null = null;
  if (options.http) {
    http = await run(async (client) => {
      const api = level.http[client];
      if (!api) throw new Error(`no HTTP client #${client}`);
      if (op === "increment") {
        return api.billing.usage.increment.mutate({ orgId: org(), metric: "api_calls", amount: 1n, reason: "api_call", idempotencyKey: randomUUID() });
      }
      const result = await api.billing.entitlements.consume.mutate({ orgId: org(), action: "api.call", idempotencyKey: randomUUID() });
      if (!result.allowed) denied++;
    });
    ctx.progress(`${label}: HTTP ${fmt(http)} ops/s (${((http / baseline) * 100).toFixed(0)} % of bare pg)`);
  }
  return { op, clients, baseline, pgbench, service, http, denied };
}

/** 1. Single consume / increment over 200 orgs at each concurrency level. */
export async function singleOps(ctx: BenchContext, op: Op): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  for (const clients of ctx.profile.levels) {
    rows.push(await withLevel(ctx.url, clients, ctx.apiKey, (level) => measureOp(ctx, level, op, { hot: false, http: true })));
  }
  return rows;
}

/** 2. Every client consuming on ONE org: they serialize on its cache row's lock. */
export async function hotRow(ctx: BenchContext): Promise<ThroughputRow> {
  const clients = ctx.profile.hotClients;
  return withLevel(ctx.url, clients, ctx.apiKey, (level) => measureOp(ctx, level, "consume", { hot: true, http: false }), { http: false });
}

interface BatchEvent {
  orgId: string;
  metric: "api_calls";
  amount: bigint;
  reason: string;
  idempotencyKey: string;
}

function makeBatch(profile: Profile, tag: string, batch: number): BatchEvent[] {
  return Array.from({ length: profile.batchSize }, (_, i) => ({
    orgId: orgId((i % profile.batchOrgs) + 1),
    metric: "api_calls",
    amount: 1n,
    reason: "api_call",
    idempotencyKey: `${tag}-${batch}-${i}`,
  }));
}

function toColumns(events: BatchEvent[]): BatchColumns {
  return {
    orgIds: events.map((e) => e.orgId),
    metrics: events.map((e) => e.metric),
    deltas: events.map((e) => e.amount.toString()),
    reasons: events.map((e) => e.reason),
    keys: events.map((e) => e.idempotencyKey),
    actors: events.map(() => "bench-baseline"),
    metadata: events.map(() => "{}"),
  };
}

/** 3. incrementMany with 1 000-event batches (unique keys, 100 orgs), one client, vs one bare statement per batch. */
export async function batchIngest(ctx: BenchContext): Promise<BatchResult> {
  const { profile } = ctx;
  const total = profile.warmupBatches + profile.batches;
  const run = `${Date.now().toString(36)}`;
  const serviceBatches = Array.from({ length: total }, (_, b) => makeBatch(profile, `svc-${run}`, b));
  const baselineBatches = Array.from({ length: total }, (_, b) => toColumns(makeBatch(profile, `pg-${run}`, b)));
  const events = profile.batches * profile.batchSize;

  return withLevel(ctx.url, 1, ctx.apiKey, async (level) => {
    const applyBaseline = async (b: number) => {
      const applied = await baselineBatch(level.pool, baselineBatches[b] as BatchColumns);
      if (applied !== profile.batchSize) throw new Error(`baseline batch ${b}: ${applied} of ${profile.batchSize} applied`);
    };
    const applyService = async (b: number) => {
      const results = await level.services.usage.incrementMany(serviceBatches[b] as BatchEvent[]);
      const applied = results.filter((r) => r.status === "applied").length;
      if (applied !== profile.batchSize) throw new Error(`service batch ${b}: ${applied} of ${profile.batchSize} applied`);
    };
    const measure = async (apply: (b: number) => Promise<void>) => {
      for (let b = 0; b < profile.warmupBatches; b++) await apply(b);
      const seconds = await timed(async () => {
        for (let b = profile.warmupBatches; b < total; b++) await apply(b);
      });
      return events / seconds;
    };
    const baseline = await measure(applyBaseline);
    ctx.progress(`incrementMany: bare pg ${fmt(baseline)} events/s`);
    const service = await measure(applyService);
    ctx.progress(`incrementMany: service ${fmt(service)} events/s (${((service / baseline) * 100).toFixed(0)} % of bare pg)`);
    return { batchSize: profile.batchSize, batches: profile.batches, orgs: profile.batchOrgs, baseline, service };
  }, { http: false });
}
