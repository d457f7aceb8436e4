import { parseArgs } from "node:util";
import { RehearsalError } from "./errors";

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

/** The command line of scripts/rehearse.ts; any mistake is a RehearsalError with one line. */
export function parseRehearseArgs(argv: string[]): RehearseArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
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
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    throw new RehearsalError(`${first} (${REHEARSE_USAGE})`);
  }
  const int = (name: string, fallback: number | undefined, min: number, max: number) => integerArg(`--${name}`, values[name] as string | undefined, fallback, min, max);
  const json = values.json as string | undefined;
  if (json !== undefined && json.trim() === "") throw new RehearsalError("--json needs a file name");
  return {
    // Phase C needs free-plan orgs below, and over, the member limit: a few dozen orgs at least.
    orgs: int("orgs", REHEARSE_DEFAULTS.orgs, 50, 1_000_000) as number,
    seed: int("seed", REHEARSE_DEFAULTS.seed, 0, 0xffff_ffff) as number,
    trafficSeconds: int("traffic-seconds", REHEARSE_DEFAULTS.trafficSeconds, 1, 86_400) as number,
    trafficProcesses: int("traffic-processes", REHEARSE_DEFAULTS.trafficProcesses, 1, 32) as number,
    trafficLoops: int("traffic-loops", REHEARSE_DEFAULTS.trafficLoops, 1, 16) as number,
    batchSize: int("batch-size", undefined, 1, 100_000),
    concurrency: int("concurrency", undefined, 1, 64),
    orgsPerTransaction: int("orgs-per-tx", undefined, 1, 10_000),
    uncountedWriters: int("uncounted-writers", 0, 0, 8) as number,
    keep: values.keep === true,
    json,
  };
}

function integerArg(name: string, raw: string | undefined, fallback: number | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RehearsalError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
