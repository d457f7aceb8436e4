import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

/**
 * A project script (e.g. `scripts/report-usage.ts`) run as the real OS process it is in
 * production, with its output collected.
 *
 * `node --import tsx`, not the `tsx` binary: that one runs the script in a second node
 * process, which doubles the cold start and leaves signals to be relayed. Each spawn still
 * pays a cold start (node, tsx and the script's imports: ≈1–2 s on an idle machine, many
 * times that under load), so a test spawns only what it must prove on a real process, and a
 * test that spawns gives itself a generous timeout (CLI_TIMEOUT_MS per spawn it waits for).
 */

/**
 * Per spawned script a test waits for (a bound on failure, not a measurement): one spawn and
 * its test's own work took over 60 s on this box at a load average above 30.
 */
export const CLI_TIMEOUT_MS = 120_000;

export interface ScriptExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ScriptRun {
  child: ChildProcess;
  /** Everything printed so far. */
  output(): { stdout: string; stderr: string };
  exit: Promise<ScriptExit>;
  /** Kills it (SIGKILL) unless it has exited already; for `finally` blocks. */
  killIfRunning(): void;
}

export function startScript(script: string, args: string[], env: Record<string, string | undefined> = {}): ScriptRun {
  const child = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", path.resolve(script), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => (stdout += chunk));
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  // "close", not "exit": it comes after the output streams have ended, so nothing is cut off.
  const exit = new Promise<ScriptExit>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    child,
    output: () => ({ stdout, stderr }),
    exit,
    killIfRunning() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** Runs a script to its end. */
export function runScript(script: string, args: string[], env: Record<string, string | undefined> = {}): Promise<ScriptExit> {
  return startScript(script, args, env).exit;
}
