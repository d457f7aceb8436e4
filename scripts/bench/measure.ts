import { performance } from "node:perf_hooks";

/** Timing primitives: closed-loop throughput over a fixed window, and latency samples. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Throughput {
  opsPerSec: number;
  ops: number;
  seconds: number;
}

/**
 * `clients` closed loops call `op` back to back: first for `warmupMs` (not counted), then
 * for `durationMs`; ops/s = ops completed inside the window ÷ the window's length. A
 * failing op stops every loop and fails the measurement.
 */
export async function throughput(options: {
  clients: number;
  warmupMs: number;
  durationMs: number;
  op: (client: number, seq: number) => Promise<unknown>;
}): Promise<Throughput> {
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
  await sleep(options.durationMs);
  stopped = true;
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(loops);
  if (failure) throw failure;
  return { opsPerSec: ops / seconds, ops, seconds };
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

/** Wall time of `work`, in seconds. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}
