/**
 * The API's input edge: how the server turns a request's superjson envelope `{ json, meta }`
 * into a procedure's raw input (tRPC calls `transformer.input.deserialize` when a procedure
 * first reads its input, after authentication). Three rules, for every procedure and every
 * field, before any work is done:
 *
 * 1. `meta` must have the shape superjson writes, with only the value types a procedure's
 *    input can use (bigint, Date, undefined, special numbers). superjson does not check it:
 *    `["custom","x"]` sends its annotation walker into unbounded recursion (5–60 ms of CPU
 *    per request until the stack overflows). Checking the shape costs microseconds.
 * 2. No text PostgreSQL cannot hold as sent (`unstorableText`: a NUL, a lone surrogate), in
 *    any string or key of `json` — every string of the input comes from there.
 * 3. No nesting deeper than `MAX_INPUT_DEPTH` (superjson copies the input recursively).
 *
 * A refusal is the domain's typed BAD_REQUEST (`malformed_superjson`, `text_not_storable`,
 * `input_too_deep`), mapped like any other BillingError. Clients keep plain superjson
 * (src/trpc/transformer.ts): the wire format is unchanged.
 */
import type { CombinedDataTransformer } from "@trpc/server";

import { BillingError } from "@/server/billing/errors";
import { unstorableText } from "@/server/billing/storable";
import { transformer } from "@/trpc/transformer";

/** Deeper than any procedure's input (metadata's own limit is 32 levels, plus the envelope). */
export const MAX_INPUT_DEPTH = 64;

/** superjson value annotations a procedure input can need; class/symbol/custom/typed-array
 * name registrations this server never makes, map/set/regexp no input schema accepts. */
const VALUE_TYPES = new Set(["undefined", "bigint", "Date", "number"]);
const META_FIELDS = new Set(["values", "referentialEqualities", "v"]);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

const malformed = (detail: string, cause?: unknown) =>
  new BillingError(
    "BAD_REQUEST",
    "malformed_superjson",
    `Malformed superjson input: ${detail}`,
    cause === undefined ? undefined : { cause: String(cause) },
  );

/** A value annotation tree: `[type]`, `[type, { path: tree }]` or `{ path: tree }`. */
function checkValueTree(tree: unknown, depth: number): void {
  if (depth > MAX_INPUT_DEPTH) throw malformed("meta.values is nested too deeply");
  if (Array.isArray(tree)) {
    const [type, children] = tree as unknown[];
    if (tree.length < 1 || tree.length > 2 || typeof type !== "string" || !VALUE_TYPES.has(type)) {
      throw malformed(`meta.values has an unsupported annotation ${JSON.stringify(tree).slice(0, 80)}`);
    }
    if (tree.length === 2) {
      if (!isRecord(children)) throw malformed("meta.values has an annotation whose children are not an object");
      for (const child of Object.values(children)) checkValueTree(child, depth + 1);
    }
    return;
  }
  if (!isRecord(tree)) throw malformed("meta.values must be an annotation or an object of annotations");
  for (const child of Object.values(tree)) checkValueTree(child, depth + 1);
}

const isPathList = (value: unknown): boolean => Array.isArray(value) && value.every((p) => typeof p === "string");

/** `{ path: [paths…] }`, `[rootPaths]` or `[rootPaths, { path: [paths…] }]`. */
function checkEqualities(equalities: unknown): void {
  const isPathMap = (value: unknown) => isRecord(value) && Object.values(value).every(isPathList);
  const ok = Array.isArray(equalities)
    ? (equalities.length === 1 || equalities.length === 2) &&
      isPathList(equalities[0]) &&
      (equalities.length === 1 || isPathMap(equalities[1]))
    : isPathMap(equalities);
  if (!ok) throw malformed("meta.referentialEqualities must map paths to lists of paths");
}

function checkMeta(meta: unknown): void {
  if (meta === undefined || meta === null) return;
  if (!isRecord(meta)) throw malformed("meta must be an object");
  for (const field of Object.keys(meta)) if (!META_FIELDS.has(field)) throw malformed(`meta has an unknown field "${field}"`);
  if (meta.v !== undefined && meta.v !== 0 && meta.v !== 1) throw malformed("meta.v must be 1");
  if (meta.values !== undefined) checkValueTree(meta.values, 0);
  if (meta.referentialEqualities !== undefined) checkEqualities(meta.referentialEqualities);
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | null;
  key: string | number | null;
}

function pathOf(frame: Frame): string {
  const keys: (string | number)[] = [];
  for (let f: Frame | null = frame; f?.parent; f = f.parent) keys.unshift(f.key as string | number);
  return keys.join(".") || "input";
}

/** Rules 2 and 3 over parsed JSON (a tree: no cycles), iteratively so no depth breaks the walk. */
function checkJson(json: unknown): void {
  const stack: Frame[] = [{ value: json, depth: 0, parent: null, key: null }];
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    const { value, depth } = frame;
    if (typeof value === "string") {
      const problem = unstorableText(value);
      if (problem) throw new BillingError("BAD_REQUEST", "text_not_storable", `${pathOf(frame)}: ${problem}`, { path: pathOf(frame) });
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth >= MAX_INPUT_DEPTH) {
      throw new BillingError("BAD_REQUEST", "input_too_deep", `${pathOf(frame)}: input is nested deeper than ${MAX_INPUT_DEPTH} levels`);
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], depth: depth + 1, parent: frame, key: i });
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      const child: Frame = { value: (value as Record<string, unknown>)[key], depth: depth + 1, parent: frame, key };
      const problem = unstorableText(key);
      if (problem) throw new BillingError("BAD_REQUEST", "text_not_storable", `${pathOf(child)}: key ${problem}`, { path: pathOf(child) });
      stack.push(child);
    }
  }
}

/** The server's `transformer.input.deserialize`: the three rules, then superjson. */
export function deserializeInput(payload: unknown): unknown {
  if (!isRecord(payload)) throw malformed("the input must be an envelope { json, meta? }");
  checkMeta(payload.meta);
  checkJson(payload.json);
  try {
    return transformer.deserialize(payload as never);
  } catch (error) {
    // Well-shaped meta that still does not fit the json (a path to a forbidden key, a
    // "bigint" over a word): superjson throws while applying it.
    throw malformed(error instanceof Error ? error.message : "could not apply meta", error);
  }
}

/** What `initTRPC` uses: the clients' superjson, with the input edge on the way in. */
export const serverTransformer: CombinedDataTransformer = {
  input: { serialize: (value: unknown) => transformer.serialize(value), deserialize: deserializeInput },
  output: transformer,
};
