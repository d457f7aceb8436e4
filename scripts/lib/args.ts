import { parseArgs, type ParseArgsConfig } from "node:util";

import type { z } from "zod";

/**
 * The command-line primitives every script parses its options with, so a mistake reads the
 * same everywhere: one line, `<command>: <what is wrong>`, and exit code 1 (USAGE_EXIT_CODE),
 * before the environment is checked or a database started, so a typo costs nothing.
 * A script's own option definitions live next to it (e.g. scripts/backfill/options.ts).
 */

/** What a command exits with on a usage mistake: 1, like every other failure the tests expect of a CLI. */
export const USAGE_EXIT_CODE = 1;

/** A mistake on the command line. readCommandLine and runScript print it as one line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * `parse(process.argv.slice(2))`, or, on a UsageError, the mistake on one line and exit 1.
 * Free of the database modules on purpose: a script without a database (fake-dodo, bench)
 * keeps its own signal handling.
 */
export function readCommandLine<T>(command: string, parse: (argv: string[]) => T, argv = process.argv.slice(2)): T {
  try {
    return parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${command}: ${error.message}`);
    process.exit(USAGE_EXIT_CODE);
  }
}

/**
 * node:util's parseArgs, strict and without positionals. Its mistakes become a UsageError
 * of its first line (it explains some over several) followed by `(usage)`.
 */
export function parseOptions<const O extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    throw new UsageError(`${first} (${usage})`);
  }
}

export interface IntegerRange {
  min: number;
  max: number;
}

/** A whole number in `range` (digits only: no sign, decimals or exponent), `fallback` when absent. */
export function integerArg(name: string, raw: string | undefined, range: IntegerRange, fallback: number): number;
export function integerArg(name: string, raw: string | undefined, range: IntegerRange): number | undefined;
export function integerArg(name: string, raw: string | undefined, { min, max }: IntegerRange, fallback?: number): number | undefined {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** A file name: absent is fine, blank is a mistake (it would write to a file named ""). */
export function fileArg(name: string, raw: string | undefined): string | undefined {
  if (raw !== undefined && raw.trim() === "") throw new UsageError(`${name} needs a file name`);
  return raw;
}

/** Which of several mutually exclusive flags is set (`undefined`: none); two or more is a mistake. */
export function exclusiveFlag<const F extends string>(values: Partial<Record<F, unknown>>, flags: readonly F[]): F | undefined {
  const set = flags.filter((flag) => values[flag] === true);
  if (set.length > 1) {
    throw new UsageError(`choose one of ${flags.map((f) => `--${f}`).join(", ")} (got ${set.map((f) => `--${f}`).join(", ")})`);
  }
  return set[0];
}

/** A comma-separated subset of `choices` (`all` when absent); `noun` names one choice in the message. */
export function choicesArg<const C extends string>(name: string, raw: string | undefined, choices: readonly C[], noun: string): C[] {
  if (raw === undefined) return [...choices];
  const names = raw
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
  const unknown = names.filter((n) => !(choices as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `${name}: unknown ${noun}${unknown.length === 1 ? "" : "s"} "${unknown.join(", ")}" (choose from ${choices.join(", ")})`,
    );
  }
  return names as C[];
}

/**
 * A value `schema` accepts, as it parses it; else "`name` <its first message>": the domain's
 * schemas word their messages as "must be …" (e.g. orgIdSchema's), which reads on from a flag.
 */
export function schemaArg<T>(name: string, raw: string | undefined, schema: z.ZodType<T>): T | undefined {
  if (raw === undefined) return undefined;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`${name} ${parsed.error.issues[0]?.message ?? "is not valid"}, got "${raw}"`);
  return parsed.data;
}
