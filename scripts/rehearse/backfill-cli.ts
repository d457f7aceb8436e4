import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

import type pg from "pg";

import { UUID_SOURCE } from "@/server/billing/schemas";

import { RehearsalError } from "./errors";
import type { PhaseContext } from "./phases";

/**
 * Runs the real `npm run backfill` command (scripts/billing-backfill.ts, through tsx, as
 * `npm run backfill` does) against the rehearsal's database, exactly as the runbook tells a
 * person to, and reads what it recorded in `backfill_runs`; as a phase's step, its exit and
 * recorded run are checks.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;
const CLI = `${ROOT}scripts/billing-backfill.ts`;

export interface BackfillCliRun {
  args: string[];
  exitCode: number;
  output: string;
  run: {
    id: string;
    status: string;
    orgsScanned: number;
    mismatches: number;
    legacyMismatches: number;
    deltasApplied: number;
    cacheRepairs: number;
    remaining: number | null;
    startedAt: Date;
    finishedAt: Date | null;
  } | null;
  /** The CLI's own word on the legacy column ("present"/"absent"), from its first line. */
  legacyColumn: "present" | "absent" | null;
  ms: number;
}

export async function runBackfillCli(databaseUrl: string, pool: pg.Pool, args: string[]): Promise<BackfillCliRun> {
  const started = performance.now();
  const { exitCode, output } = await new Promise<{ exitCode: number; output: string }>((resolve, reject) => {
    const child = spawn(TSX, ["--conditions=react-server", CLI, ...args], {
      cwd: ROOT,
      // DATABASE_URL set: the CLI uses that database, never the embedded default.
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", (error) => reject(new RehearsalError(`npm run backfill could not start: ${error.message}`)));
    child.on("exit", (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), output }));
  });
  const runId = new RegExp(`\\brun (${UUID_SOURCE})\\b`).exec(output)?.[1] ?? null;
  const legacy = /legacy organizations\.usage column (present|absent)/.exec(output)?.[1] as "present" | "absent" | undefined;
  let run: BackfillCliRun["run"] = null;
  if (runId) {
    const { rows } = await pool.query<{
      status: string;
      orgs_scanned: number;
      mismatches: number;
      legacy_mismatches: number;
      deltas_applied: number;
      cache_repairs: number;
      remaining: number | null;
      started_at: Date;
      finished_at: Date | null;
    }>(
      `SELECT status, orgs_scanned, mismatches, legacy_mismatches, deltas_applied, cache_repairs, remaining, started_at, finished_at
       FROM backfill_runs WHERE id = $1::uuid`,
      [runId],
    );
    const r = rows[0];
    if (r) {
      run = {
        id: runId,
        status: r.status,
        orgsScanned: r.orgs_scanned,
        mismatches: r.mismatches,
        legacyMismatches: r.legacy_mismatches,
        deltasApplied: r.deltas_applied,
        cacheRepairs: r.cache_repairs,
        remaining: r.remaining,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
      };
    }
  }
  return { args, exitCode, output, run, legacyColumn: legacy ?? null, ms: performance.now() - started };
}

/** One CLI run as a phase sees it: the run it recorded, or null (the failed check already noted). */
export type BackfillStep = (args: string[]) => Promise<BackfillCliRun["run"]>;

/** Runs the CLI; a non-zero exit is a failed check (its output kept), not an exception. */
export async function runBackfillCliChecked(
  phase: PhaseContext,
  databaseUrl: string,
  pool: pg.Pool,
  args: string[],
): Promise<BackfillCliRun["run"]> {
  const result = await runBackfillCli(databaseUrl, pool, args);
  phase.keepOutput(result.output);
  phase.counts.exitCode = result.exitCode;
  phase.expect(result.exitCode === 0, `npm run backfill -- ${args.join(" ")} exited ${result.exitCode}`);
  phase.expect(result.run !== null, "the backfill recorded no run");
  return result.run;
}
