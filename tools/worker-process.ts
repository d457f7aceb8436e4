import { spawn, type ChildProcess } from "node:child_process";

/**
 * One worker OS process of the project's own (rehearsal traffic, test workers): a TypeScript
 * script run as `node --import tsx` — one process, where the `tsx` binary starts two — that
 * prints "ready" once it is set up and, when it ends, its result as the last stdout line (JSON).
 */
export interface WorkerProcess<T> {
  child: ChildProcess;
  /** Resolves on "ready"; also settles when the worker ends first, so a barrier never hangs. */
  ready: Promise<void>;
  /** The parsed last line when the worker exits 0; else rejects with its last stderr lines. */
  done: Promise<T>;
}

export function startWorkerProcess<T>(
  script: string,
  options: { env: Record<string, string>; cwd?: string; name: string; fail?: (message: string) => Error },
): WorkerProcess<T> {
  const fail = options.fail ?? ((message: string) => new Error(message));
  const child = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", script], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  // Writing "go" to a worker that already died must not crash the parent (EPIPE).
  child.stdin?.on("error", () => undefined);
  let out = "";
  let err = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes("ready\n")) onReady();
  });
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const done = new Promise<T>((resolve, reject) => {
    child.on("error", (error) => reject(fail(`${options.name} could not start: ${error.message}`)));
    child.on("exit", (code, signal) => {
      const last = out.trim().split("\n").pop() ?? "";
      const result = code === 0 ? parseJson(last) : undefined;
      if (result !== undefined) resolve(result as T);
      else
        reject(fail(`${options.name} exited ${signal ?? code}: ${err.trim().split("\n").slice(-8).join(" | ") || `last line: ${last}`}`));
    });
  });
  return { child, ready: Promise.race([ready, done.then(() => undefined)]), done };
}

/** The worker's result line, or undefined when it is not JSON (a worker must not crash its parent). */
function parseJson(line: string): unknown {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/** SIGKILLs the workers still running (cleanup after a failure). */
export function killWorkers(workers: { child: ChildProcess }[]): void {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
}
