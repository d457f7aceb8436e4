import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

import { killWorkers, startWorkerProcess } from "../../tools";
import { RehearsalError } from "./errors";
import { emptyWorkloadCounts, type WorkloadCounts } from "./workload";

/**
 * The rehearsal's live traffic: several worker PROCESSES (./traffic-worker.ts), each with its
 * own pg pool, so the workload's transactions really run in parallel with the backfill's
 * from separate connections and separate Node processes.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WORKER = fileURLToPath(new URL("./traffic-worker.ts", import.meta.url));
// Generous: on a loaded 2-core machine several workers starting at once took over a minute.
const READY_TIMEOUT_MS = 180_000;

export interface TrafficOptions {
  databaseUrl: string;
  processes: number;
  /** Transactions in flight per process. */
  loops: number;
  seed: number;
  /** Workers that change rows WITHOUT counting (a forgotten code path). */
  uncountedProcesses?: number;
}

export interface Traffic {
  /** Resolves once every worker has committed its first transaction. */
  ready: Promise<void>;
  /** Closes the workers' stdin and sums their counts (fails when one crashed). */
  stop(): Promise<WorkloadCounts>;
  /** SIGKILLs any worker still running (cleanup after a failure). */
  kill(): void;
}

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<WorkloadCounts>;
}

function startWorker(options: TrafficOptions, index: number, uncounted: boolean): Worker {
  const worker = startWorkerProcess<Partial<WorkloadCounts>>(WORKER, {
    cwd: ROOT,
    env: {
      REHEARSAL_DATABASE_URL: options.databaseUrl,
      REHEARSAL_LOOPS: String(options.loops),
      REHEARSAL_SEED: String(options.seed + index),
      REHEARSAL_UNCOUNTED: uncounted ? "1" : "0",
    },
    name: `traffic worker ${index}`,
    fail: (message) => new RehearsalError(message),
  });
  return { ...worker, done: worker.done.then((counts) => ({ ...emptyWorkloadCounts(), ...counts })) };
}

function sum(parts: WorkloadCounts[]): WorkloadCounts {
  const total = emptyWorkloadCounts();
  for (const part of parts) {
    for (const key of Object.keys(total) as (keyof WorkloadCounts)[]) {
      if (key === "firstError") total.firstError ??= part.firstError;
      else total[key] += part[key];
    }
  }
  return total;
}

export function startTraffic(options: TrafficOptions): Traffic {
  const uncounted = options.uncountedProcesses ?? 0;
  const workers = Array.from({ length: options.processes + uncounted }, (_, i) => startWorker(options, i, i >= options.processes));
  const kill = () => killWorkers(workers);
  // Unhandled until stop() awaits them: a crash is reported there, not as an unhandled rejection.
  for (const w of workers) w.done.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RehearsalError(`the traffic workers did not start within ${READY_TIMEOUT_MS / 1000} s`)),
      READY_TIMEOUT_MS,
    );
  });
  const ready = Promise.race([Promise.all(workers.map((w) => w.ready)), timeout]).then(
    () => clearTimeout(timer),
    (error: unknown) => {
      clearTimeout(timer);
      kill();
      throw error;
    },
  );
  return {
    ready,
    kill,
    async stop() {
      for (const w of workers) w.child.stdin?.end();
      return sum(await Promise.all(workers.map((w) => w.done)));
    },
  };
}
