/**
 * Everything the bench starts (database, cluster, pools, HTTP server, pgbench) registers
 * how to stop it here. `shutdown()` undoes them in reverse order, once, whether the run
 * ends normally, throws, or is interrupted (Ctrl-C / SIGTERM).
 */

type Cleanup = { label: string; run: () => Promise<void> | void };

const stack: Cleanup[] = [];
let shuttingDown: Promise<void> | undefined;

/** Registers a cleanup; returns a function that runs it now (and unregisters it). */
export function defer(label: string, run: () => Promise<void> | void): () => Promise<void> {
  const entry: Cleanup = { label, run };
  stack.push(entry);
  return async () => {
    const index = stack.indexOf(entry);
    if (index === -1) return;
    stack.splice(index, 1);
    await entry.run();
  };
}

export function isShuttingDown(): boolean {
  return shuttingDown !== undefined;
}

export function shutdown(): Promise<void> {
  shuttingDown ??= (async () => {
    while (stack.length > 0) {
      const entry = stack.pop() as Cleanup;
      if (process.env.BENCH_DEBUG) console.error(`[bench] cleanup: ${entry.label}`);
      try {
        await entry.run();
      } catch (error) {
        console.warn(`[bench] cleanup "${entry.label}" failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })();
  return shuttingDown;
}

/**
 * Ctrl-C / SIGTERM: stop what we started, then exit (130 / 143). The handlers stay
 * installed: a second signal (a terminal sends one to every process of the group, and
 * tsx relays it once more) must not cut the cleanup short; a third forces the exit.
 */
export function installSignalHandlers(): void {
  let received = 0;
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.on(signal, () => {
      received++;
      if (received === 1) {
        console.error(`\n[bench] ${signal}: stopping and cleaning up…`);
        void shutdown().finally(() => process.exit(code));
      } else if (received >= 3) {
        process.exit(code);
      }
    });
  }
}
