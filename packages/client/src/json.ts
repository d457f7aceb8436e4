/**
 * Plain JSON of the client's answers. `JSON.stringify` throws on a bigint ("Do not know how
 * to serialize a BigInt"), and every count here is one. `toJSONSafe` writes a bigint as its
 * decimal string (exact at any size; a number would round past 2^53) and a Date as its ISO
 * string, recursively: for logs, `Response.json(...)`, or a browser that has no superjson.
 */

export type JSONSafe<T> = T extends bigint
  ? string
  : T extends Date
    ? string
    : T extends (infer U)[]
      ? JSONSafe<U>[]
      : T extends object
        ? { [K in keyof T]: JSONSafe<T[K]> }
        : T;

export function toJSONSafe<T>(value: T): JSONSafe<T> {
  return convert(value, 0) as JSONSafe<T>;
}

/** `JSON.stringify` that accepts bigints (as decimal strings) and Dates (as ISO strings). */
export function stringifyJSON(value: unknown, space?: number): string {
  return JSON.stringify(convert(value, 0), null, space);
}

const MAX_DEPTH = 64;

function convert(value: unknown, depth: number): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_DEPTH) throw new TypeError("toJSONSafe: value is nested deeper than 64 levels (a cycle?)");
  if (Array.isArray(value)) return value.map((item) => convert(item, depth + 1));
  // An Error (the fallback's `error`): its own fields, plus the message and name JSON drops.
  const out: Record<string, unknown> = value instanceof Error ? { name: value.name, message: value.message } : {};
  for (const [key, item] of Object.entries(value))
    if (item !== undefined && typeof item !== "function") out[key] = convert(item, depth + 1);
  return out;
}
