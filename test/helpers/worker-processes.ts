import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

const TSX = path.resolve("node_modules/.bin/tsx");

/**
 * Runs one script of test/workers/ in several OS processes (each with its own pg pool) and
 * releases them together: a worker prints "ready" once connected, then waits for a line on
 * its stdin. Without that barrier tsx's start-up (1–2 s each, staggered on a busy machine)
 * would let early workers finish before late ones begin, and the "race" would be serial.
 * Resolves with each worker's last stdout line, parsed as JSON; rejects (and kills the
 * others) when one exits non-zero.
 */
export async function runWorkerProcesses<T>(script: string, envs: Record<string, string>[]): Promise<T[]> {
  const workers = envs.map((env, index) => startWorker<T>(script, env, index));
  // Awaited below; a worker killed after another one failed must not be an unhandled rejection.
  for (const w of workers) w.done.catch(() => undefined);
  try {
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin?.write("go\n");
    return await Promise.all(workers.map((w) => w.done));
  } finally {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  }
}

function startWorker<T>(script: string, env: Record<string, string>, index: number) {
  const child: ChildProcess = spawn(TSX, [script], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.startsWith("ready\n")) onReady();
  });
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const done = new Promise<T>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as T);
      else reject(new Error(`${script} #${index} exited ${signal ?? code}: ${err.trim().split("\n").slice(-8).join("\n")}`));
    });
  });
  // A worker that dies before "ready" rejects `ready` too, so the barrier never hangs.
  return { child, ready: Promise.race([ready, done.then(() => undefined)]), done };
}
