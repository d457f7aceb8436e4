import { MAX_SEED } from "@/server/seed";

import { fileArg, integerArg, parseOptions } from "../lib/args";

export const REHEARSE_USAGE =
  "usage: npm run rehearse -- [--orgs N] [--seed S] [--traffic-seconds N] [--traffic-processes N] [--traffic-loops N] " +
  "[--batch-size N] [--concurrency N] [--orgs-per-tx N] [--uncounted-writers N] [--keep] [--json FILE]";

export interface RehearseArgs {
  orgs: number;
  seed: number;
  trafficSeconds: number;
  trafficProcesses: number;
  trafficLoops: number;
  batchSize?: number;
  concurrency?: number;
  orgsPerTransaction?: number;
  uncountedWriters: number;
  keep: boolean;
  json?: string;
}

export const REHEARSE_DEFAULTS = { orgs: 2_000, seed: 1, trafficSeconds: 20, trafficProcesses: 3, trafficLoops: 2 } as const;

/** The command line of scripts/rehearse.ts; any mistake is a UsageError with one line. */
export function parseRehearseArgs(argv: string[]): RehearseArgs {
  const values = parseOptions(
    argv,
    {
      orgs: { type: "string" },
      seed: { type: "string" },
      "traffic-seconds": { type: "string" },
      "traffic-processes": { type: "string" },
      "traffic-loops": { type: "string" },
      "batch-size": { type: "string" },
      concurrency: { type: "string" },
      "orgs-per-tx": { type: "string" },
      "uncounted-writers": { type: "string" },
      keep: { type: "boolean" },
      json: { type: "string" },
    },
    REHEARSE_USAGE,
  );
  return {
    // Phase C needs free-plan orgs below, and over, the member limit: a few dozen orgs at least.
    orgs: integerArg("--orgs", values.orgs, { min: 50, max: 1_000_000 }, REHEARSE_DEFAULTS.orgs),
    seed: integerArg("--seed", values.seed, { min: 0, max: MAX_SEED }, REHEARSE_DEFAULTS.seed),
    trafficSeconds: integerArg("--traffic-seconds", values["traffic-seconds"], { min: 1, max: 86_400 }, REHEARSE_DEFAULTS.trafficSeconds),
    trafficProcesses: integerArg(
      "--traffic-processes",
      values["traffic-processes"],
      { min: 1, max: 32 },
      REHEARSE_DEFAULTS.trafficProcesses,
    ),
    trafficLoops: integerArg("--traffic-loops", values["traffic-loops"], { min: 1, max: 16 }, REHEARSE_DEFAULTS.trafficLoops),
    batchSize: integerArg("--batch-size", values["batch-size"], { min: 1, max: 100_000 }),
    concurrency: integerArg("--concurrency", values.concurrency, { min: 1, max: 64 }),
    orgsPerTransaction: integerArg("--orgs-per-tx", values["orgs-per-tx"], { min: 1, max: 10_000 }),
    uncountedWriters: integerArg("--uncounted-writers", values["uncounted-writers"], { min: 0, max: 8 }, 0),
    keep: values.keep === true,
    json: fileArg("--json", values.json),
  };
}
