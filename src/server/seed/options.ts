import { parseArgs } from "node:util";
import { SeedError } from "./errors";

export interface SeedArgs {
  orgs: number;
  seed: number;
  legacyOnly: boolean;
}

export const DEFAULT_ORGS = 100;
export const DEFAULT_SEED = 1;
/** The PRNG takes a 32-bit seed; larger values would silently alias smaller ones. */
export const MAX_SEED = 0xffff_ffff;

/** `--orgs N [--seed S] [--legacy-only]`; anything else is a SeedError with one clear line. */
export function parseSeedArgs(argv: string[]): SeedArgs {
  let values: { orgs?: string; seed?: string; "legacy-only"?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        orgs: { type: "string" },
        seed: { type: "string" },
        "legacy-only": { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // parseArgs explains some mistakes over several lines; the first one says what is wrong.
    const first = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    throw new SeedError(`${first} (usage: --orgs N [--seed S] [--legacy-only])`);
  }
  return {
    orgs: integerArg("--orgs", values.orgs, DEFAULT_ORGS, 1, 10_000_000),
    seed: integerArg("--seed", values.seed, DEFAULT_SEED, 0, MAX_SEED),
    legacyOnly: values["legacy-only"] ?? false,
  };
}

function integerArg(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new SeedError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
