import { MAX_SEED } from "@/server/seed";

import { integerArg, parseOptions } from "../lib/args";

export interface SeedArgs {
  orgs: number;
  seed: number;
  legacyOnly: boolean;
}

export const DEFAULT_ORGS = 100;
export const DEFAULT_SEED = 1;

/** `--orgs N [--seed S] [--legacy-only]`; anything else is a UsageError with one clear line. */
export function parseSeedArgs(argv: string[]): SeedArgs {
  const values = parseOptions(
    argv,
    {
      orgs: { type: "string" },
      seed: { type: "string" },
      "legacy-only": { type: "boolean" },
    },
    "usage: --orgs N [--seed S] [--legacy-only]",
  );
  return {
    orgs: integerArg("--orgs", values.orgs, { min: 1, max: 10_000_000 }, DEFAULT_ORGS),
    seed: integerArg("--seed", values.seed, { min: 0, max: MAX_SEED }, DEFAULT_SEED),
    legacyOnly: values["legacy-only"] ?? false,
  };
}
