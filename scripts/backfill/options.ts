import { DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, DEFAULT_ORGS_PER_TRANSACTION, type BackfillMode } from "@/server/billing/backfill";

import { exclusiveFlag, fileArg, integerArg, parseOptions } from "../lib/args";

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

/** The command line of scripts/billing-backfill.ts; any mistake is a UsageError with one line. */
export function parseBackfillArgs(argv: string[]): BackfillArgs {
  const values = parseOptions(
    argv,
    {
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
    BACKFILL_USAGE,
  );
  const mode = exclusiveFlag(values, ["dry-run", "apply", "verify"] as const);
  return {
    mode: mode === "apply" ? "apply" : mode === "verify" ? "verify" : "dry_run",
    resume: values.resume === true,
    batchSize: integerArg("--batch-size", values["batch-size"], { min: 1, max: 100_000 }, DEFAULT_BATCH_SIZE),
    concurrency: integerArg("--concurrency", values.concurrency, { min: 1, max: 64 }, DEFAULT_CONCURRENCY),
    orgsPerTransaction: integerArg("--orgs-per-tx", values["orgs-per-tx"], { min: 1, max: 10_000 }, DEFAULT_ORGS_PER_TRANSACTION),
    csvPath: fileArg("--csv", values.csv),
    orgPrefix: values["org-prefix"] || undefined,
    progressEvery: integerArg("--progress-every", values["progress-every"], { min: 1, max: 10_000_000 }, 1_000),
    verifyAfterApply: values["no-final-verify"] !== true,
  };
}
