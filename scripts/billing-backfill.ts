import os from "node:os";

import cliProgress from "cli-progress";

import {
  BACKFILL_SERVER_OPTIONS,
  BackfillError,
  runBackfill,
  type BackfillMode,
  type BackfillResult,
  type RunTotals,
} from "@/server/billing/backfill";
import { createDatabase } from "@/server/db/client";
import { pgError } from "@/server/db/pg-errors";
import { onShutdown } from "@/server/process/shutdown";

import { parseBackfillArgs, type BackfillArgs } from "./backfill/options";
import { readCommandLine } from "./lib/args";
import { runScript } from "./lib/run-script";

// npm run backfill -- [--dry-run | --apply | --verify] [--resume] [--batch-size N]
//   [--concurrency N] [--orgs-per-tx N] [--csv FILE] [--org-prefix PREFIX] [--progress-every N] [--no-final-verify]
// Moves the organizations onto the usage ledger (see src/server/billing/backfill/apply.ts for
// the locking protocol). Exit codes: 0 done; 1 mismatches remain (verify, apply) or an error;
// 130 stopped by Ctrl-C / SIGTERM after a whole batch (continue with --resume).

const COMMAND = "npm run backfill";

const args = readCommandLine(COMMAND, parseBackfillArgs);

const MODE_LABEL: Record<BackfillMode, string> = { dry_run: "dry run", apply: "apply", verify: "verify" };

// Ctrl-C / SIGTERM: finish the current batch, record the cursor, status "cancelled"; the exit
// (and the stop of an embedded cluster this process started) waits until the run is recorded.
const stop = new AbortController();
// Settles once the run is recorded AND its summary printed: the signal's exit waits for both.
let reported: Promise<unknown> = Promise.resolve();
onShutdown(
  async () => {
    if (!stop.signal.aborted) {
      stop.abort();
      console.error(`\n${COMMAND}: stopping after the current batch (a kill now is safe too: continue with --resume)`);
    }
    await reported;
  },
  { forceExitAfterMs: 120_000 },
);

await runScript(COMMAND, (databaseUrl) => {
  const work = backfill(databaseUrl);
  reported = work.catch(() => undefined);
  return work;
});

async function backfill(databaseUrl: string): Promise<number> {
  const database = createDatabase(databaseUrl, {
    max: args.concurrency + 2,
    applicationName: COMMAND,
    serverOptions: BACKFILL_SERVER_OPTIONS,
  });
  const progress = progressReporter(args);
  const running = runBackfill(database.pool, {
    mode: args.mode,
    resume: args.resume,
    batchSize: args.batchSize,
    concurrency: args.concurrency,
    orgsPerTransaction: args.orgsPerTransaction,
    orgPrefix: args.orgPrefix,
    csvPath: args.csvPath,
    verifyAfterApply: args.verifyAfterApply,
    startedBy: `${whoAmI()}@${os.hostname()} (cli)`,
    signal: stop.signal,
    onStart: (info) => {
      const scope = args.orgPrefix ? ` (orgs with slugs starting "${args.orgPrefix}")` : "";
      console.log(
        `${COMMAND}: ${MODE_LABEL[args.mode]} run ${info.runId}${info.resumed ? `, resumed after ${info.orgsDone} orgs` : ""}: ` +
          `${info.orgsTotal} organizations${scope}; legacy organizations.usage column ${info.legacyColumn ? "present" : "absent"}`,
      );
      progress.start(info.orgsTotal, info.orgsDone);
    },
    onProgress: (p) => progress.update(p.orgsDone, p.totals),
    onClosingVerify: () => {
      progress.stop();
      console.log(`${COMMAND}: verifying every organization of the scope again (cache == SUM(ledger) == old count)…`);
    },
  });
  let result: BackfillResult;
  try {
    result = await running;
  } catch (error) {
    progress.stop();
    if (error instanceof BackfillError) {
      console.error(`${COMMAND}: ${error.message}`);
      return 1;
    }
    if (pgError(error)?.code === "42P01") {
      console.error(`${COMMAND}: the database has no backfill tables yet: run \`npm run migrate\` first`);
      return 1;
    }
    throw error;
  } finally {
    await database.close();
  }
  progress.stop();
  console.log(summary(result));
  if (result.status === "cancelled") return 130;
  if (result.mode !== "dry_run" && (result.remaining ?? 0) > 0) return 1;
  return 0;
}

function whoAmI(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? "unknown"; // no passwd entry (some containers)
  }
}

function summary(r: BackfillResult): string {
  const seconds = r.elapsedMs / 1000;
  const lines = [
    `${MODE_LABEL[r.mode]} run ${r.runId} ${r.status} in ${seconds.toFixed(1)} s: ${r.orgsScanned} of ${r.orgsTotal} organizations ` +
      `(${Math.round(r.orgsScanned / Math.max(seconds, 0.001))} orgs/s)`,
    `  billing mismatches (cache ≠ SUM(ledger) or SUM(ledger) ≠ old count): ${r.mismatches}`,
  ];
  if (r.legacyColumn && r.mode !== "verify")
    lines.push(`  legacy organizations.usage values that differ from the old count: ${r.legacyMismatches}`);
  if (r.mode === "apply") {
    lines.push(`  migration ledger rows written: ${r.deltasApplied}; cache rows repaired to SUM(ledger): ${r.cacheRepairs}`);
  }
  if (r.remaining !== null) {
    lines.push(
      r.remaining === 0
        ? "  verified: cache == SUM(ledger) == old count for every organization and gauge"
        : `  STILL DIFFERENT: ${r.remaining} (org, metric) pairs`,
    );
  }
  if (r.status === "cancelled")
    lines.push(
      `  stopped on request; continue with: ${COMMAND} -- --${r.mode.replace("_", "-")} --resume${args.orgPrefix ? ` --org-prefix ${args.orgPrefix}` : ""}`,
    );
  if (r.csvRows !== null) lines.push(`  diff report: ${r.csvRows} rows written to ${args.csvPath}`);
  lines.push(`  diff report rows are in backfill_diffs (run_id = '${r.runId}')`);
  return lines.join("\n");
}

interface ProgressReporter {
  start(total: number, done: number): void;
  update(done: number, totals: RunTotals): void;
  stop(): void;
}

/** A bar with rate and ETA on a terminal; otherwise one plain line per `--progress-every` orgs. */
function progressReporter(options: BackfillArgs): ProgressReporter {
  let startedAt = 0;
  let first = 0;
  const rate = (done: number) => (done - first) / Math.max((performance.now() - startedAt) / 1000, 0.001);
  if (process.stdout.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${MODE_LABEL[options.mode]} [{bar}] {percentage}% | {value}/{total} orgs | {rate} orgs/s | ETA {eta_formatted} | mismatches {mismatches}`,
        etaBuffer: 50,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let active = false;
    return {
      start(total, done) {
        startedAt = performance.now();
        first = done;
        bar.start(total, done, { rate: "0", mismatches: 0 });
        active = true;
      },
      update(done, totals) {
        bar.update(done, { rate: rate(done).toFixed(0), mismatches: totals.mismatches });
      },
      stop() {
        if (active) bar.stop();
        active = false;
      },
    };
  }
  let lastLine = 0;
  let total = 0;
  return {
    start(t, done) {
      startedAt = performance.now();
      first = done;
      lastLine = done;
      total = t;
    },
    update(done, totals) {
      if (done - lastLine < options.progressEvery && done < total) return;
      lastLine = done;
      const r = rate(done);
      const eta = r > 0 ? Math.round((total - done) / r) : 0;
      console.log(
        `${MODE_LABEL[options.mode]}: ${done}/${total} orgs (${Math.floor((100 * done) / Math.max(total, 1))}%), ` +
          `${r.toFixed(0)} orgs/s, ETA ${eta} s, mismatches ${totals.mismatches}, migration rows ${totals.deltasApplied}`,
      );
    },
    stop() {},
  };
}
