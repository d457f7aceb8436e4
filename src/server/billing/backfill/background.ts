import type pg from "pg";

import { createDatabase } from "@/server/db/client";
import { env } from "@/server/env";

import { BACKFILL_SERVER_OPTIONS, runBackfill, type BackfillResult } from "./runner";
import { finishRun, runIsExecuting } from "./runs";
import type { BackfillMode, RunStatus } from "./types";

/**
 * Runs started from the dashboard execute here, inside the server process, after the
 * request that started them has answered. One registry per process keeps every running
 * promise, so a run is never a floating promise: its end is logged, and a failure is both
 * logged (with its stack) and recorded on the run row, never swallowed.
 *
 * Each run gets its own small pool (`concurrency + 2` connections, as the runner needs),
 * not the request pool: a long apply must not starve the pages that watch it.
 *
 * A server that stops (or dies) mid-run leaves the run `running` with nobody holding its
 * advisory lock: the dashboard shows it as interrupted and offers to resume it.
 */

export interface LaunchSpec {
  runId: string;
  mode: BackfillMode;
  orgPrefix: string | null;
  batchSize: number;
  concurrency: number;
  startedBy: string;
}

export interface RunOutcome {
  runId: string;
  status: RunStatus;
  /** The error that ended the run, when it failed. */
  error: string | null;
}

/** Where this process measured the run's progress (its own resume point), for an exact rate. */
export interface LocalProgress {
  startedAtMs: number;
  orgsAtStart: number;
  lastAtMs: number;
  lastDone: number;
}

export interface Connection {
  pool: pg.Pool;
  close(): Promise<void>;
}
export type Connect = (max: number) => Connection;

interface Entry {
  done: Promise<RunOutcome>;
  progress: { current: LocalProgress | null };
  stop: AbortController;
}

/** Outcomes kept after a run ends, so a late `settled()` still answers. */
const KEEP_OUTCOMES = 100;

export class BackfillLauncher {
  private readonly running = new Map<string, Entry>();
  private readonly outcomes = new Map<string, RunOutcome>();

  constructor(
    private readonly connect: Connect,
    private readonly log: Pick<Console, "info" | "error"> = console,
  ) {}

  /**
   * Starts executing a recorded run (see ./control.ts) and returns at once. Starting a run
   * this process already executes is a no-op (the runner's advisory lock would refuse it).
   */
  launch(spec: LaunchSpec): void {
    if (this.running.has(spec.runId)) return;
    const progress: Entry["progress"] = { current: null };
    const stop = new AbortController();
    // Registered before any await of the run, removed (in a later tick) once it ends.
    const done = this.execute(spec, progress, stop.signal).finally(() => this.running.delete(spec.runId));
    this.running.set(spec.runId, { done, progress, stop });
  }

  /** Whether this process is executing the run (or is about to: between its launch and its lock). */
  isRunningHere(runId: string): boolean {
    return this.running.has(runId);
  }

  runningHere(): string[] {
    return [...this.running.keys()];
  }

  progressOf(runId: string): LocalProgress | null {
    return this.running.get(runId)?.progress.current ?? null;
  }

  /** The run's outcome once it ends; undefined for a run this process never launched. */
  settled(runId: string): Promise<RunOutcome> | undefined {
    const entry = this.running.get(runId);
    if (entry) return entry.done;
    const outcome = this.outcomes.get(runId);
    return outcome ? Promise.resolve(outcome) : undefined;
  }

  /**
   * Stops a run this process executes after its current batch (status `cancelled`), also
   * when the stop comes before the runner has started its loop (the runner's start keeps a
   * `cancelling` status too, which is how another server instance's cancel reaches it).
   * False when not running here.
   */
  requestStop(runId: string): boolean {
    const entry = this.running.get(runId);
    entry?.stop.abort();
    return entry !== undefined;
  }

  private async execute(spec: LaunchSpec, progress: Entry["progress"], signal: AbortSignal): Promise<RunOutcome> {
    const label = `[backfill] ${spec.mode} run ${spec.runId}`;
    let outcome: RunOutcome;
    let connection: Connection | undefined;
    try {
      connection = this.connect(spec.concurrency + 2);
      const result: BackfillResult = await runBackfill(connection.pool, {
        runId: spec.runId,
        mode: spec.mode,
        orgPrefix: spec.orgPrefix ?? undefined,
        batchSize: spec.batchSize,
        concurrency: spec.concurrency,
        startedBy: spec.startedBy,
        signal,
        onStart: (info) => {
          const now = Date.now();
          progress.current = { startedAtMs: now, orgsAtStart: info.orgsDone, lastAtMs: now, lastDone: info.orgsDone };
        },
        onProgress: (p) => {
          if (progress.current) progress.current = { ...progress.current, lastAtMs: Date.now(), lastDone: p.orgsDone };
        },
      });
      this.log.info(
        `${label} ${result.status}: ${result.orgsScanned}/${result.orgsTotal} orgs, ${result.mismatches} mismatches, ` +
          `${result.deltasApplied} migration rows, remaining ${result.remaining ?? "not measured"}`,
      );
      outcome = { runId: spec.runId, status: result.status, error: null };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.error(`${label} failed:`, error);
      if (connection) await this.recordFailure(connection.pool, spec.runId, message, label);
      outcome = { runId: spec.runId, status: "failed", error: message };
    } finally {
      await connection?.close().catch((error: unknown) => this.log.error(`${label}: closing its pool failed:`, error));
    }
    this.outcomes.set(spec.runId, outcome);
    if (this.outcomes.size > KEEP_OUTCOMES) this.outcomes.delete(this.outcomes.keys().next().value as string);
    return outcome;
  }

  /**
   * The runner records a failure inside its batch loop itself; one before the loop (a lost
   * connection while counting the scope, say) would leave the run looking interrupted.
   * A run another process is executing (the runner's lock was taken) is left alone.
   */
  private async recordFailure(pool: pg.Pool, runId: string, message: string, label: string): Promise<void> {
    try {
      const { rows } = await pool.query<{ status: RunStatus }>(`SELECT status FROM backfill_runs WHERE id = $1::uuid`, [runId]);
      const status = rows[0]?.status;
      if ((status === "running" || status === "cancelling") && !(await runIsExecuting(pool, runId))) {
        await finishRun(pool, runId, "failed", { error: message });
      }
    } catch (error) {
      this.log.error(`${label}: recording its failure failed too (it will show as interrupted):`, error);
    }
  }
}

function serverConnection(max: number): Connection {
  const url = env().DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: the server cannot open a pool for the backfill run");
  return createDatabase(url, { max, applicationName: "backfill (dashboard)", serverOptions: BACKFILL_SERVER_OPTIONS });
}

// On globalThis, not in module scope: Next.js may load this module once per route bundle,
// and the pages, the tRPC handler and the CSV route must all see the same registry.
const REGISTRY = Symbol.for("ledger-policy-billing.backfill-launcher");
type WithRegistry = typeof globalThis & { [REGISTRY]?: BackfillLauncher };

/** The process-wide launcher, over the server's DATABASE_URL. */
export function backgroundBackfills(): BackfillLauncher {
  const scope = globalThis as WithRegistry;
  scope[REGISTRY] ??= new BackfillLauncher(serverConnection);
  return scope[REGISTRY];
}
