import { killWorkers, startWorkerProcess } from "../../tools";

/**
 * Runs one script of test/workers/ in several OS processes (each with its own pg pool) and
 * releases them together: a worker prints "ready" once connected, then waits for a line on
 * its stdin. Without that barrier each worker's start-up (1–2 s each, staggered on a busy machine)
 * would let early workers finish before late ones begin, and the "race" would be serial.
 * Resolves with each worker's last stdout line, parsed as JSON; rejects (and kills the
 * others) when one exits non-zero.
 */
export async function runWorkerProcesses<T>(script: string, envs: Record<string, string>[]): Promise<T[]> {
  const workers = envs.map((env, index) => startWorkerProcess<T>(script, { env, name: `${script} #${index}` }));
  // Awaited below; a worker killed after another one failed must not be an unhandled rejection.
  for (const w of workers) w.done.catch(() => undefined);
  try {
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin?.write("go\n");
    return await Promise.all(workers.map((w) => w.done));
  } finally {
    killWorkers(workers);
  }
}
