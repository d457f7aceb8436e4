import { MAX_SEED } from "@/server/seed";

import { integerArg, parseOptions, UsageError } from "../lib/args";

export interface SeedArgs {
  orgs: number;
  seed: number;
  legacyOnly: boolean;
  /** Also write the demo history (src/server/seed/history) for the seeded orgs. */
  history: boolean;
}

export const DEFAULT_ORGS = 100;
export const DEFAULT_SEED = 1;

const USAGE = "usage: --orgs N [--seed S] [--legacy-only | --history]";

/** `--orgs N [--seed S] [--legacy-only | --history]`; anything else is a UsageError with one clear line. */
export function parseSeedArgs(argv: string[]): SeedArgs {
  const values = parseOptions(
    argv,
    {
      orgs: { type: "string" },
      seed: { type: "string" },
      "legacy-only": { type: "boolean" },
      history: { type: "boolean" },
    },
    USAGE,
  );
  const legacyOnly = values["legacy-only"] ?? false;
  const history = values.history ?? false;
  // The history is written through the ledger; a legacy-only seed has none.
  if (legacyOnly && history) throw new UsageError(`--history writes through the ledger: it cannot go with --legacy-only (${USAGE})`);
  return {
    orgs: integerArg("--orgs", values.orgs, { min: 1, max: 10_000_000 }, DEFAULT_ORGS),
    seed: integerArg("--seed", values.seed, { min: 0, max: MAX_SEED }, DEFAULT_SEED),
    legacyOnly,
    history,
  };
}
