import { performance } from "node:perf_hooks";

import { cpuMs, queryCount } from "./instrument";

/** Timing primitives: closed-loop throughput over a fixed window, and latency samples. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one op costs this process: SQL round trips and CPU (client and server side alike). */
export interface Cost {
  queriesPerOp: number;
  cpuMsPerOp: number;
}

export interface Throughput extends Cost {
  opsPerSec: number;
  ops: number;
  seconds: number;
}

/** One measured window: ops completed, its length, and what this process spent in it. */
export interface Sample {
  ops: number;
  seconds: number;
  queries: number;
  cpuMs: number;
}

/**
 * `clients` closed loops call `op` back to back: first for `warmupMs` (not counted), then
 * for `durationMs`; counted are the ops completed inside that window. A failing op stops
 * every loop and fails the measurement.
 */
export async function window(options: {
  clients: number;
  warmupMs: number;
  durationMs: number;
  op: (client: number, seq: number) => Promise<unknown>;
}): Promise<Sample> {
  let counting = false;
  let stopped = false;
  let ops = 0;
  let failure: unknown;
  const loop = async (client: number) => {
    for (let seq = 0; !stopped; seq++) {
      try {
        await options.op(client, seq);
      } catch (error) {
        failure ??= error;
        stopped = true;
        return;
      }
      if (counting && !stopped) ops++;
    }
  };
  const loops = Array.from({ length: options.clients }, (_, i) => loop(i));
  await sleep(options.warmupMs);
  counting = true;
  const start = performance.now();
  const [q0, c0] = [queryCount(), cpuMs()];
  await sleep(options.durationMs);
  stopped = true;
  const seconds = (performance.now() - start) / 1000;
  const [q1, c1] = [queryCount(), cpuMs()];
  await Promise.all(loops);
  if (failure) throw failure;
  return { ops, seconds, queries: q1 - q0, cpuMs: c1 - c0 };
}

/** Several windows of one variant, as one figure. */
export function combine(samples: Sample[]): Throughput {
  const sum = (f: (s: Sample) => number) => samples.reduce((a, s) => a + f(s), 0);
  const ops = sum((s) => s.ops);
  const seconds = sum((s) => s.seconds);
  return { opsPerSec: ops / seconds, ops, seconds, queriesPerOp: sum((s) => s.queries) / ops, cpuMsPerOp: sum((s) => s.cpuMs) / ops };
}

/**
 * Runs every step once per round, in order (a, b, c, a, b, c, …), so the variants being
 * compared run back to back and a load spike on this shared machine hits them alike
 * instead of whichever happened to be running then. A step may return null (skipped).
 */
export async function inRounds(
  rounds: number,
  steps: [string, (round: number) => Promise<Sample | null>][],
): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>(steps.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, step] of steps) {
      const sample = await step(round);
      if (sample) samples.get(name)?.push(sample);
    }
  }
  return samples;
}

export interface Latency {
  p50: number;
  p99: number;
  mean: number;
  max: number;
  n: number;
}

/** Nearest-rank percentiles of samples in milliseconds. */
export function summarize(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { p50: at(50), p99: at(99), mean: sum / sorted.length, max: sorted[sorted.length - 1] ?? NaN, n: sorted.length };
}

/**
 * One client, `count` timed calls after `warmup` untimed ones. With several variants, the
 * calls are interleaved (a, b, a, b, …) so a load spike on this shared machine hits every
 * variant alike instead of whichever happened to run then.
 */
export async function latencies<K extends string>(options: {
  warmup: number;
  count: number;
  variants: Record<K, () => Promise<unknown>>;
}): Promise<Record<K, Latency>> {
  const names = Object.keys(options.variants) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < options.warmup; i++) for (const name of names) await options.variants[name]();
  for (let i = 0; i < options.count; i++) {
    for (const name of names) {
      const start = performance.now();
      await options.variants[name]();
      samples[name].push(performance.now() - start);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n])])) as Record<K, Latency>;
}

/** One timed run of `work`, counted as `ops` ops. */
export async function sampled(ops: number, work: () => Promise<unknown>): Promise<Sample> {
  const start = performance.now();
  const [q0, c0] = [queryCount(), cpuMs()];
  await work();
  return { ops, seconds: (performance.now() - start) / 1000, queries: queryCount() - q0, cpuMs: cpuMs() - c0 };
}
