import { parseArgs } from "node:util";
import { BackfillError } from "./apply";
import { DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, DEFAULT_ORGS_PER_TRANSACTION } from "./runner";
import type { BackfillMode } from "./types";

export const BACKFILL_USAGE =
  "usage: npm run backfill -- [--dry-run | --apply | --verify] [--resume] [--batch-size N] [--concurrency N] " +
  "[--orgs-per-tx N] [--csv FILE] [--org-prefix PREFIX] [--progress-every N] [--no-final-verify]";

export interface BackfillArgs {
  mode: BackfillMode;
  resume: boolean;
  batchSize: number;
  concurrency: number;
  orgsPerTransaction: number;
  csvPath?: string;
  orgPrefix?: string;
  /** Without a TTY: one line per this many orgs. */
  progressEvery: number;
  verifyAfterApply: boolean;
}

/** The command line of scripts/billing-backfill.ts; any mistake is a BackfillError with one line. */
export function parseBackfillArgs(argv: string[]): BackfillArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "dry-run": { type: "boolean" },
        apply: { type: "boolean" },
        verify: { type: "boolean" },
        resume: { type: "boolean" },
        "batch-size": { type: "string" },
        concurrency: { type: "string" },
        "orgs-per-tx": { type: "string" },
        csv: { type: "string" },
        "org-prefix": { type: "string" },
        "progress-every": { type: "string" },
        "no-final-verify": { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    throw new BackfillError(`${first} (${BACKFILL_USAGE})`);
  }
  const modes = (["dry-run", "apply", "verify"] as const).filter((m) => values[m] === true);
  if (modes.length > 1) throw new BackfillError(`choose one of --dry-run, --apply, --verify (got ${modes.map((m) => `--${m}`).join(", ")})`);
  const mode: BackfillMode = modes[0] === "apply" ? "apply" : modes[0] === "verify" ? "verify" : "dry_run";
  const csv = values.csv as string | undefined;
  if (csv !== undefined && csv.trim() === "") throw new BackfillError("--csv needs a file name");
  return {
    mode,
    resume: values.resume === true,
    batchSize: integerArg("--batch-size", values["batch-size"] as string | undefined, DEFAULT_BATCH_SIZE, 1, 100_000),
    concurrency: integerArg("--concurrency", values.concurrency as string | undefined, DEFAULT_CONCURRENCY, 1, 64),
    orgsPerTransaction: integerArg("--orgs-per-tx", values["orgs-per-tx"] as string | undefined, DEFAULT_ORGS_PER_TRANSACTION, 1, 10_000),
    csvPath: csv,
    orgPrefix: (values["org-prefix"] as string | undefined) || undefined,
    progressEvery: integerArg("--progress-every", values["progress-every"] as string | undefined, 1_000, 1, 10_000_000),
    verifyAfterApply: values["no-final-verify"] !== true,
  };
}

function integerArg(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BackfillError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
