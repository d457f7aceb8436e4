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

export class BillingError extends Error {
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

export const isBillingError = (error: unknown): error is BillingError => error instanceof BillingError;
