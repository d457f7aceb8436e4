/**
 * One error type for everything that goes wrong in a call, recognized by a brand instead of
 * `instanceof`: a product app can end up with two copies of this package (a workspace, a
 * bundler's duplicate), and `instanceof` is false across copies. `isBillingError` is not.
 */

const BRAND = Symbol.for("ledger-policy.billing-client.error");

/** The service's refusals (tRPC codes), then the client's own failures to get an answer. */
export type BillingErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "TOO_MANY_REQUESTS"
  | "INTERNAL_SERVER_ERROR"
  /** No answer within the call's `timeoutMs`. */
  | "TIMEOUT"
  /** The connection failed: refused, reset, DNS. */
  | "NETWORK_ERROR"
  /** An HTTP answer that is not the billing API's (a proxy's 502 page, a wrong URL). */
  | "BAD_RESPONSE"
  /** The caller's own AbortSignal fired. */
  | "ABORTED";

export interface BillingErrorDetails {
  code: BillingErrorCode;
  message: string;
  /** The service's reason, e.g. `invalid_input`, `org_not_found`, `insufficient_scope`. */
  reason?: string | null;
  httpStatus?: number;
  /** The procedure, e.g. `billing.entitlements.consume`. */
  path?: string;
  /** Per-field problems of a refused input. */
  issues?: { path: (string | number)[]; message: string }[] | null;
  cause?: unknown;
}

export class BillingClientError extends Error {
  readonly [BRAND] = true;
  readonly code: BillingErrorCode;
  readonly reason: string | null;
  readonly httpStatus: number | undefined;
  readonly path: string | undefined;
  readonly issues: { path: (string | number)[]; message: string }[] | null;
  /**
   * The service could not answer: a timeout, a network failure, a 5xx, a 408 or a 429. These
   * are retried (for safe calls) and decided by the fallback; every other failure is an
   * answer — including a 404 page from a wrong URL, which must not quietly fail open.
   */
  readonly unavailable: boolean;

  constructor(details: BillingErrorDetails) {
    super(details.message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "BillingClientError";
    this.code = details.code;
    this.reason = details.reason ?? null;
    this.httpStatus = details.httpStatus;
    this.path = details.path;
    this.issues = details.issues ?? null;
    this.unavailable = isUnavailable(details.code, details.httpStatus);
  }
}

const UNAVAILABLE: ReadonlySet<BillingErrorCode> = new Set(["TIMEOUT", "NETWORK_ERROR", "INTERNAL_SERVER_ERROR", "TOO_MANY_REQUESTS"]);

function isUnavailable(code: BillingErrorCode, httpStatus: number | undefined): boolean {
  if (code === "BAD_RESPONSE") return httpStatus !== undefined && (httpStatus >= 500 || httpStatus === 408);
  return UNAVAILABLE.has(code);
}

/** True for an error thrown by any copy of this client. */
export function isBillingError(error: unknown): error is BillingClientError {
  return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}
