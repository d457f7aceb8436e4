/** A background job running inside a long-lived process (the web server). */
export interface IntervalHandle {
  /** Stops the timer and waits for a tick in progress to finish. */
  stop(): Promise<void>;
}

/**
 * Runs `work` now and then every `intervalMs`: ticks never overlap (a slow one makes the next
 * wait), a tick that throws is logged and the next one tries again, a line `work` returns is
 * logged, and the timer never keeps the process alive. The one loop behind the usage reporter,
 * the event deliverer, the ledger's fold and its months ahead.
 */
export function runEvery(intervalMs: number, work: () => Promise<string | undefined>, log: (line: string) => void): IntervalHandle {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = work()
      .then((line) => {
        if (line) log(line);
      })
      .catch((error: unknown) => log(`tick failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
