/**
 * What PostgreSQL can store, as rules the domain and the API edge share: text (a `text`
 * column or a JSON string) and the JSON metadata of ledger rows. A value that breaks them
 * would fail in the database (SQLSTATE 22021, 22P05, 54001) or, worse, be stored as
 * something else than was sent: node-postgres encodes a lone surrogate as U+FFFD, so two
 * different idempotency keys would become one. Refusing them is the only honest answer.
 */

/** A NUL (PostgreSQL text cannot hold it) or a lone surrogate (`\p{Cs}` in a `u` regex
 * matches only unpaired halves: a pair is read as one astral code point). */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /[\u0000\p{Cs}]/u;

/** Why PostgreSQL cannot store `text` as sent, or null when it can. */
export function unstorableText(text: string): string | null {
  const found = UNSTORABLE.exec(text);
  if (!found) return null;
  return found[0] === "\u0000"
    ? "contains a NUL character (U+0000), which PostgreSQL cannot store"
    : "is not well-formed UTF-16 (it has a lone surrogate), which PostgreSQL cannot store as UTF-8";
}

/** Nesting deeper than this is refused (PostgreSQL's own JSON parser stops far later, with an error). */
export const METADATA_MAX_DEPTH = 32;
export const METADATA_MAX_JSON_LENGTH = 16_384;

export interface MetadataProblem {
  /** Path inside the metadata, e.g. `["tags", 2]`; empty for the metadata itself. */
  path: (string | number)[];
  message: string;
}

const isPlainObject = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

const describe = (value: unknown): string =>
  typeof value === "object" && value !== null ? (value.constructor?.name ?? "object") : typeof value;

/**
 * The one metadata rule (increment, consume and every event of incrementMany): a plain object
 * of JSON data — strings PostgreSQL can store, finite numbers, booleans, null, arrays and
 * plain objects; `undefined` becomes what JSON.stringify makes of it — at most 32 levels deep,
 * without cycles, at most 16 KiB as JSON. Never throws, whatever it is given (a bigint, a
 * cycle, a shared sub-object repeated a billion times): its work is bounded by the size limit.
 */
export function metadataProblem(metadata: unknown): MetadataProblem | null {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata) || !isPlainObject(metadata)) {
    return { path: [], message: `must be an object, not ${Array.isArray(metadata) ? "an array" : describe(metadata)}` };
  }
  const tooLarge: MetadataProblem = { path: [], message: `must be at most ${METADATA_MAX_JSON_LENGTH / 1024} KiB as JSON` };
  // Every value visited adds at least one character to the JSON, so more visits than the
  // length limit already means too large: this bounds the walk over shared sub-objects.
  let budget = METADATA_MAX_JSON_LENGTH;
  const ancestors = new Set<object>();
  const path: (string | number)[] = [];

  const visit = (value: unknown, depth: number): MetadataProblem | "too_large" | null => {
    if (--budget < 0) return "too_large";
    switch (typeof value) {
      case "string": {
        const problem = unstorableText(value);
        return problem ? { path: [...path], message: problem } : null;
      }
      case "number":
        return Number.isFinite(value) ? null : { path: [...path], message: `must be a finite number, not ${value}` };
      case "boolean":
      case "undefined":
        return null;
      case "object":
        break;
      default:
        return { path: [...path], message: `must be JSON data (string, number, boolean, null, array or object), not a ${typeof value}` };
    }
    if (value === null) return null;
    if (ancestors.has(value)) return { path: [...path], message: "refers to an object that contains it (circular)" };
    const isArray = Array.isArray(value);
    if (!isArray && !isPlainObject(value)) {
      return { path: [...path], message: `must be JSON data (string, number, boolean, null, array or object), not a ${describe(value)}` };
    }
    if (depth >= METADATA_MAX_DEPTH) return { path: [...path], message: `is nested deeper than ${METADATA_MAX_DEPTH} levels` };
    ancestors.add(value);
    const record = value as Record<string | number, unknown>;
    // Arrays by index (no copy of a huge array before the budget stops the walk).
    const length = isArray ? (value as unknown[]).length : 0;
    const keys = isArray ? null : Object.keys(value);
    for (let i = 0; i < (keys ? keys.length : length); i++) {
      const key = keys ? (keys[i] as string) : i;
      path.push(key);
      const keyProblem = typeof key === "string" ? unstorableText(key) : null;
      const problem = keyProblem ? { path: [...path], message: `key ${keyProblem}` } : visit(record[key], depth + 1);
      path.pop();
      if (problem) return problem;
    }
    ancestors.delete(value);
    return null;
  };

  const problem = visit(metadata, 0);
  if (problem === "too_large") return tooLarge;
  if (problem) return problem;
  // Now plain, acyclic and bounded: stringifying cannot throw and costs little.
  return JSON.stringify(metadata).length > METADATA_MAX_JSON_LENGTH ? tooLarge : null;
}
