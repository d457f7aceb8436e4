import { baselineCheck, oldWayCheck } from "./baseline";
import { withLevel } from "./level";
import { latencies, summarize } from "./measure";
import { runPgbench, scripts } from "./pgbench";
import type { CheckLatency, OrgSizeLatency } from "./results";
import { BIG_FILES, BIG_MEMBERS, BIG_ORG, orgId, randomSpreadOrg, SMALL_FILES, SMALL_MEMBERS, SMALL_ORG } from "./setup";
import type { BenchContext } from "./workloads";

/** Latency workloads: `check` in-process and over HTTP, and its (in)dependence on org size. */

const ms = (n: number) => `${n.toFixed(3)} ms`;

/** Untimed calls to each real server before its latencies are timed. */
const REMOTE_WARMUP_CALLS = 2_000;

/** 4. check latency, one client: bare pg policy read, service in-process, typed client over HTTP (interleaved). */
export async function checkLatency(ctx: BenchContext): Promise<CheckLatency> {
  const { checkCalls: count, checkWarmup: warmup } = ctx.profile;
  const result = await withLevel(ctx.url, 1, ctx.apiKey, async (level) => {
    const api = level.http[0];
    if (!api) throw new Error("no HTTP client");
    return latencies({
      warmup,
      count,
      variants: {
        baseline: () => baselineCheck(level.pool, randomSpreadOrg()),
        service: () => level.services.entitlements.check(randomSpreadOrg(), "member.add"),
        http: () => api.billing.entitlements.check.query({ orgId: randomSpreadOrg(), action: "member.add" }),
      },
    });
  });
  let pgbench = null;
  if (ctx.pgbench) {
    const run = await runPgbench({ url: ctx.url, clients: 1, transactions: count, script: scripts.check(), logLatencies: true });
    pgbench = summarize(run.latenciesMs ?? []);
  }
  for (const [name, l] of Object.entries({ ...result, ...(pgbench ? { pgbench } : {}) })) {
    ctx.progress(`check latency ${name}: p50 ${ms(l.p50)}, p99 ${ms(l.p99)}`);
  }
  // The product app's view: one client in another process, sequential calls to the real server,
  // warm as a server with traffic is (V8 optimizes the call path over the first thousands of calls).
  const remote: CheckLatency["remote"] = {};
  const servers = ctx.remote?.servers ?? [];
  const remoteCalls = { warmup: Math.max(warmup, REMOTE_WARMUP_CALLS), count };
  const checks = (await ctx.remote?.client.latency(servers, ctx.apiKey, "check", remoteCalls)) ?? [];
  const consumes = (await ctx.remote?.client.latency(servers, ctx.apiKey, "consume", remoteCalls)) ?? [];
  for (const [k, server] of servers.entries()) {
    const check = checks[k];
    const consume = consumes[k];
    if (!check || !consume) continue;
    remote[server.variant] = { check, consume };
    for (const [name, r] of Object.entries({ check, consume })) {
      ctx.progress(
        `${name} latency from another process ⇄ ${server.variant}: p50 ${ms(r.latency.p50)}, p99 ${ms(r.latency.p99)} ` +
          `(server ${r.serverCpuMsPerCall.toFixed(2)} ms, client ${r.clientCpuMsPerCall.toFixed(2)} ms CPU per call)`,
      );
    }
  }
  return { calls: count, ...result, pgbench, remote };
}

/**
 * 5. check for an org with 10 members vs one with 100 000 (and 10 000 files), beside the
 * old way (COUNT(*) members + SUM(size_bytes) files). Small and big are interleaved.
 */
export async function orgSizeLatency(ctx: BenchContext): Promise<OrgSizeLatency> {
  const { checkCalls, checkWarmup, oldWayCalls, oldWayWarmup } = ctx.profile;
  const small = orgId(SMALL_ORG);
  const big = orgId(BIG_ORG);
  return withLevel(
    ctx.url,
    1,
    ctx.apiKey,
    async (level) => {
      const service = await latencies({
        warmup: checkWarmup,
        count: checkCalls,
        variants: {
          small: () => level.services.entitlements.check(small, "member.add"),
          big: () => level.services.entitlements.check(big, "member.add"),
        },
      });
      const oldWay = await latencies({
        warmup: oldWayWarmup,
        count: oldWayCalls,
        variants: { small: () => oldWayCheck(level.pool, small), big: () => oldWayCheck(level.pool, big) },
      });
      const flatness = service.big.p50 / service.small.p50;
      const speedUp = oldWay.big.p50 / service.big.p50;
      ctx.progress(
        `check, 10 members: p50 ${ms(service.small.p50)}; 100 000 members: p50 ${ms(service.big.p50)} (×${flatness.toFixed(2)})`,
      );
      ctx.progress(`old way, 100 000 members: p50 ${ms(oldWay.big.p50)} (${speedUp.toFixed(1)}× slower than check)`);
      return {
        calls: checkCalls,
        oldWayCalls,
        members: { small: SMALL_MEMBERS, big: BIG_MEMBERS },
        files: { small: SMALL_FILES, big: BIG_FILES },
        service,
        oldWay,
        flatness,
        speedUp,
      };
    },
    { http: false },
  );
}
