import { randomUUID } from "node:crypto";

import { baselineBatch, baselineCheck, baselineConsume, baselineIncrement, type BatchColumns } from "./baseline";
import { withLevel, type Level } from "./level";
import { combine, inRounds, sampled, window, type Cost, type Sample, type Throughput } from "./measure";
import type { Profile } from "./options";
import { runPgbench, scripts } from "./pgbench";
import type { RemoteClient, RemoteSample, RemoteServer } from "./remote";
import type { BatchResult, RemoteCost, ThroughputRow } from "./results";
import { serviceSql } from "./service-sql";
import { HOT_ORG, orgId, randomSpreadOrg } from "./setup";

/** Throughput workloads: single consume / increment, the hot row, batched ingest. */

export interface BenchContext {
  url: string;
  apiKey: string;
  profile: Profile;
  pgbench: boolean;
  progress(line: string): void;
  /** The real server(s) and the client process, when there is a build to serve (remote.ts). */
  remote?: { client: RemoteClient; servers: RemoteServer[] };
}

type Op = ThroughputRow["op"];
type Step = [string, (round: number) => Promise<Sample | null>];

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const cost = (t: Throughput): Cost => ({ queriesPerOp: t.queriesPerOp, cpuMsPerOp: t.cpuMsPerOp });
const costText = (t: Throughput) => `${t.queriesPerOp.toFixed(1)} queries, ${t.cpuMsPerOp.toFixed(2)} ms CPU per op`;
const share = (part: number, whole: number) => `${((part / whole) * 100).toFixed(0)} % of bare pg`;

/** The same work four ways at one concurrency: bare pg, pgbench, service, HTTP — in rounds, back to back. */
async function measureOp(ctx: BenchContext, level: Level, op: Op, options: { hot: boolean; http: boolean }): Promise<ThroughputRow> {
  const { profile } = ctx;
  const org = options.hot ? () => orgId(HOT_ORG) : randomSpreadOrg;
  const { clients } = level;
  let denied = 0;
  const loop = (call: (client: number) => Promise<unknown>) => (round: number) =>
    window({ clients, warmupMs: round === 0 ? profile.warmupMs : profile.rewarmMs, durationMs: profile.roundMs, op: call });

  const steps: Step[] = [
    [
      "bare pg",
      loop(async () => {
        if (op === "increment") return baselineIncrement(level.pool, org());
        if (op === "check") return baselineCheck(level.pool, org());
        if (!(await baselineConsume(level.pool, org()))) denied++;
      }),
    ],
  ];
  if (ctx.pgbench) {
    const script = op === "consume" ? scripts.consume(options.hot) : op === "check" ? scripts.check() : scripts.increment();
    steps.push([
      "pgbench",
      async (round) => {
        if (round >= profile.pgbenchRounds) return null;
        // A reference column, not the subject: a pgbench that completed nothing in its second
        // (32 connections opened on a loaded machine) leaves its cell n/a instead of the run.
        const result = await runPgbench({ url: ctx.url, clients, seconds: profile.pgbenchSeconds, script }).catch((error: unknown) => {
          ctx.progress(`pgbench ${op} ×${clients} gave no figure: ${(error as Error).message.split("\n")[0]}`);
          return null;
        });
        if (!result || result.transactions === 0) return null;
        if (result.failed > 0) ctx.progress(`pgbench reported ${result.failed} failed transactions`);
        return { ops: result.transactions, seconds: result.transactions / result.tps, queries: 0, cpuMs: 0 };
      },
    ]);
  }
  // The service's own statements without its code (service-sql.ts): check and consume.
  const sqlOnly = op === "increment" ? undefined : await serviceSql(level.pool);
  if (sqlOnly) {
    steps.push(["service SQL", loop(() => (op === "check" ? sqlOnly.check(org()) : sqlOnly.consume(org())))]);
  }
  steps.push([
    "service",
    loop(async () => {
      if (op === "increment") return level.services.usage.increment(org(), "api_calls", 1n, "api_call", { idempotencyKey: randomUUID() });
      if (op === "check") return level.services.entitlements.check(org(), "api.call");
      const result = await level.services.entitlements.consume(org(), "api.call", { idempotencyKey: randomUUID() });
      if (!result.allowed) denied++;
    }),
  ]);
  if (options.http) {
    steps.push([
      "HTTP",
      loop(async (client) => {
        const api = level.http[client];
        if (!api) throw new Error(`no HTTP client #${client}`);
        if (op === "increment") {
          return api.billing.usage.increment.mutate({
            orgId: org(),
            metric: "api_calls",
            amount: 1n,
            reason: "api_call",
            idempotencyKey: randomUUID(),
          });
        }
        if (op === "check") return api.billing.entitlements.check.query({ orgId: org(), action: "api.call" });
        const result = await api.billing.entitlements.consume.mutate({ orgId: org(), action: "api.call", idempotencyKey: randomUUID() });
        if (!result.allowed) denied++;
      }),
    ]);
  }

  // The product app in a process of its own, against the real server (remote.ts).
  const remoteSamples = new Map<string, RemoteSample[]>();
  if (ctx.remote && op !== "increment" && !options.hot) {
    const { client } = ctx.remote;
    for (const server of ctx.remote.servers) {
      const name = `HTTP ⇄ ${server.variant}`;
      remoteSamples.set(name, []);
      steps.push([
        name,
        async (round) => {
          const timing = { warmupMs: round === 0 ? profile.warmupMs : profile.rewarmMs, durationMs: profile.roundMs };
          const sample = await client.throughput(server, ctx.apiKey, op, clients, timing);
          remoteSamples.get(name)?.push(sample);
          return sample;
        },
      ]);
    }
  }

  const samples = await inRounds(profile.rounds, steps);
  const figure = (name: string) => {
    const list = samples.get(name);
    return list && list.length > 0 ? combine(list) : null;
  };
  const base = figure("bare pg") as Throughput;
  const svc = figure("service") as Throughput;
  const svcSql = figure("service SQL");
  const pgb = figure("pgbench");
  const web = figure("HTTP");
  const label = `${options.hot ? "hot-row " : ""}${op} ×${clients}`;
  ctx.progress(`${label}: bare pg ${fmt(base.opsPerSec)} ops/s (${costText(base)})` + (pgb ? `; pgbench ${fmt(pgb.opsPerSec)} tps` : ""));
  if (svcSql) {
    ctx.progress(
      `${label}: the service's SQL alone ${fmt(svcSql.opsPerSec)} ops/s, ${share(svcSql.opsPerSec, base.opsPerSec)} (${costText(svcSql)})`,
    );
  }
  ctx.progress(`${label}: service ${fmt(svc.opsPerSec)} ops/s, ${share(svc.opsPerSec, base.opsPerSec)} (${costText(svc)})`);
  if (web) ctx.progress(`${label}: HTTP ${fmt(web.opsPerSec)} ops/s, ${share(web.opsPerSec, base.opsPerSec)} (${costText(web)})`);
  const remote: ThroughputRow["remote"] = {};
  const remoteCost: ThroughputRow["remoteCost"] = {};
  for (const server of ctx.remote?.servers ?? []) {
    const list = remoteSamples.get(`HTTP ⇄ ${server.variant}`);
    if (!list?.length) continue;
    const t = combine(list);
    const cost: RemoteCost = { serverCpuMsPerOp: t.cpuMsPerOp, clientCpuMsPerOp: list.reduce((a, s) => a + s.clientCpuMs, 0) / t.ops };
    remote[server.variant] = t.opsPerSec;
    remoteCost[server.variant] = cost;
    ctx.progress(
      `${label}: HTTP from another process ⇄ ${server.variant} ${fmt(t.opsPerSec)} ops/s, ${share(t.opsPerSec, base.opsPerSec)} ` +
        `(server ${cost.serverCpuMsPerOp.toFixed(2)} ms, client ${cost.clientCpuMsPerOp.toFixed(2)} ms CPU per op)`,
    );
  }
  return {
    op,
    clients,
    baseline: base.opsPerSec,
    pgbench: pgb?.opsPerSec ?? null,
    serviceSql: svcSql?.opsPerSec ?? null,
    service: svc.opsPerSec,
    http: web?.opsPerSec ?? null,
    remote,
    remoteCost,
    denied,
    cost: { baseline: cost(base), serviceSql: svcSql && cost(svcSql), service: cost(svc), http: web && cost(web) },
  };
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

/**
 * 3. incrementMany with 1 000-event batches (unique keys, 100 orgs), one client, vs one
 * bare statement per batch; the two alternate batch by batch.
 */
export async function batchIngest(ctx: BenchContext): Promise<BatchResult> {
  const { profile } = ctx;
  const total = profile.warmupBatches + profile.batches;
  const run = Date.now().toString(36);
  // Built before any timing: only the call is measured.
  const serviceBatches = Array.from({ length: total }, (_, b) => makeBatch(profile, `svc-${run}`, b));
  const baselineBatches = Array.from({ length: total }, (_, b) => toColumns(makeBatch(profile, `pg-${run}`, b)));

  return withLevel(
    ctx.url,
    1,
    ctx.apiKey,
    async (level) => {
      const applyBaseline = async (b: number) => {
        const applied = await baselineBatch(level.pool, baselineBatches[b] as BatchColumns);
        if (applied !== profile.batchSize) throw new Error(`baseline batch ${b}: ${applied} of ${profile.batchSize} applied`);
      };
      const applyService = async (b: number) => {
        const results = await level.services.usage.incrementMany(serviceBatches[b] as BatchEvent[]);
        const applied = results.filter((r) => r.status === "applied").length;
        if (applied !== profile.batchSize) throw new Error(`service batch ${b}: ${applied} of ${profile.batchSize} applied`);
      };
      for (let b = 0; b < profile.warmupBatches; b++) {
        await applyBaseline(b);
        await applyService(b);
      }
      const samples = await inRounds(profile.batches, [
        ["bare pg", (round) => sampled(profile.batchSize, () => applyBaseline(profile.warmupBatches + round))],
        ["service", (round) => sampled(profile.batchSize, () => applyService(profile.warmupBatches + round))],
      ]);
      const base = combine(samples.get("bare pg") ?? []);
      const svc = combine(samples.get("service") ?? []);
      const perBatch = (t: Throughput): Cost => ({
        queriesPerOp: t.queriesPerOp * profile.batchSize,
        cpuMsPerOp: t.cpuMsPerOp * profile.batchSize,
      });
      const text = (c: Cost) => `${c.queriesPerOp.toFixed(1)} queries, ${c.cpuMsPerOp.toFixed(1)} ms CPU per batch`;
      ctx.progress(`incrementMany: bare pg ${fmt(base.opsPerSec)} events/s (${text(perBatch(base))})`);
      ctx.progress(
        `incrementMany: service ${fmt(svc.opsPerSec)} events/s, ${share(svc.opsPerSec, base.opsPerSec)} (${text(perBatch(svc))})`,
      );
      return {
        batchSize: profile.batchSize,
        batches: profile.batches,
        orgs: profile.batchOrgs,
        baseline: base.opsPerSec,
        service: svc.opsPerSec,
        cost: { baseline: perBatch(base), service: perBatch(svc) },
      };
    },
    { http: false },
  );
}
