import { writeFile } from "node:fs/promises";

import { BackfillError } from "@/server/billing/backfill";
import { onShutdown } from "@/server/process/shutdown";
import { SeedError } from "@/server/seed";

import { readCommandLine } from "./lib/args";
import { runScript } from "./lib/run-script";
import { RehearsalError } from "./rehearse/errors";
import { parseRehearseArgs } from "./rehearse/options";
import { rehearse, type RehearsalReport } from "./rehearse/rehearsal";
import { createScratchDatabase, type ScratchDatabase } from "./rehearse/scratch-database";

// npm run rehearse -- [--orgs N] [--seed S] [--traffic-seconds N] [--traffic-processes N]
//   [--traffic-loops N] [--batch-size N] [--concurrency N] [--orgs-per-tx N]
//   [--uncounted-writers N] [--keep] [--json FILE]
// The whole migration runbook on a FRESH scratch database (billing_rehearsal_<random> on the
// project's server, dropped afterwards; --keep keeps it), every phase timed and checked.
// Exit codes: 0 every check passed; 1 a check failed or the rehearsal could not run.

const COMMAND = "npm run rehearse";

const args = readCommandLine(COMMAND, parseRehearseArgs);

let scratch: ScratchDatabase | undefined;
// Ctrl-C / SIGTERM: drop the scratch database before exiting (its traffic workers see their
// stdin close and stop; FORCE ends their connections), then exit.
onShutdown(
  async () => {
    if (!scratch || args.keep) return;
    console.error(`\n${COMMAND}: interrupted; dropping ${scratch.name}`);
    await scratch.drop().catch(() => undefined);
  },
  { forceExitAfterMs: 30_000 },
);

await runScript(COMMAND, async (serverUrl) => {
  try {
    scratch = await createScratchDatabase(serverUrl);
  } catch (error) {
    if (!(error instanceof RehearsalError)) throw error;
    console.error(`${COMMAND}: ${error.message}`);
    return 1;
  }
  console.log(`${COMMAND}: scratch database ${scratch.name} (${args.orgs.toLocaleString("en-US")} orgs, seed ${args.seed})`);
  let report: RehearsalReport | undefined;
  try {
    report = await rehearse({
      databaseUrl: scratch.url,
      orgs: args.orgs,
      seed: args.seed,
      trafficSeconds: args.trafficSeconds,
      trafficProcesses: args.trafficProcesses,
      trafficLoops: args.trafficLoops,
      batchSize: args.batchSize,
      concurrency: args.concurrency,
      orgsPerTransaction: args.orgsPerTransaction,
      uncountedProcesses: args.uncountedWriters,
      log: (line) => console.log(line),
    });
  } catch (error) {
    if (!(error instanceof RehearsalError || error instanceof SeedError || error instanceof BackfillError)) throw error;
    console.error(`${COMMAND}: ${error.message}`);
    return 1;
  } finally {
    if (args.keep) console.log(`${COMMAND}: kept ${scratch.name}: ${scratch.url.replace(/\/\/[^@/]*@/, "//…@")}`);
    else await scratch.drop();
  }
  if (args.json) await writeFile(args.json, `${JSON.stringify({ database: scratch.name, dropped: !args.keep, ...report }, null, 2)}\n`);
  const failed = report.phases.filter((p) => !p.ok);
  console.log(
    report.ok
      ? `${COMMAND}: all ${report.phases.length} phases passed in ${(report.totalMs / 1000).toFixed(1)} s`
      : `${COMMAND}: FAILED: ${failed.map((p) => p.title).join("; ")}`,
  );
  return report.ok ? 0 : 1;
});
