import type { z } from "zod";

/**
 * The one typed error of the domain. Services throw it; the tRPC errorFormatter (and the
 * scripts) map `code` to a transport status in one place. A policy denial is NOT an error:
 * it is a normal `{ allowed: false, reason }` answer.
 */
export type BillingErrorCode =
  | "BAD_REQUEST" // input that passed the schema but is still not acceptable
  | "NOT_FOUND" // the organization, key or record does not exist
  | "CONFLICT" // the write would break an invariant (a gauge below zero, a reused key)
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "PRECONDITION_FAILED"
  | "TOO_MANY_REQUESTS";

/**
 * Marks a BillingError by a registry symbol, not by its class: Next bundles this module once
 * per route bundle, and the process-wide services (on globalThis) may throw another bundle's
 * copy of the class, which `instanceof` in this bundle would not recognise (a 500).
 */
const BRAND = Symbol.for("ledger-policy-billing.BillingError");

export class BillingError extends Error {
  readonly [BRAND] = true;
  readonly code: BillingErrorCode;
  /** A stable machine-readable reason, e.g. `gauge_below_zero`, `org_not_found`. */
  readonly reason: string;
  readonly details?: Record<string, unknown>;

  constructor(code: BillingErrorCode, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "BillingError";
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

export const isBillingError = (error: unknown): error is BillingError =>
  typeof error === "object" && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true;

/**
 * Validates a service's input with its zod schema: bad input becomes the domain's
 * BAD_REQUEST (first issue in the message, every issue's path in `details`), never a throw
 * of zod's own error.
 */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new BillingError("BAD_REQUEST", "invalid_input", `${issue?.path.join(".")}: ${issue?.message}`, {
    issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
  });
}
