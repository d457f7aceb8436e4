import { HttpError } from "./http";

/** The failures a test injects into the fake: which requests they hit, and how each one fails. */

export interface FailureSpec {
  /** Which requests: "ingest", "subscriptions", or any (default). */
  route?: "ingest" | "subscriptions" | "any";
  /** Answer with this status (e.g. 429, 500, 503); omit to only delay. */
  status?: number;
  /** Seconds, sent as `retry-after` (with 429). */
  retryAfter?: number;
  /** Wait this long before answering (a slow or hanging server: client timeouts). */
  delayMs?: number;
  /**
   * Answer only once this settles: a test holds one request in flight until something else
   * has happened (e.g. a second reporter's request arrived), with no guess at a duration.
   */
  holdUntil?: Promise<unknown>;
  /** How many matching requests it affects (default 1). */
  times?: number;
  /**
   * Ingest only: fail AFTER storing the events — Dodo has them, but the caller never hears
   * so (a reporter killed or timed out mid-request). It must resend; Dodo ignores the repeat.
   */
  afterIngest?: boolean;
}

/** Which kind of request a path is, for a failure's `route`. */
export type RequestRoute = "ingest" | "subscriptions" | "other";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The failures still to happen, first added first used. */
export class InjectedFailures {
  private pending: (FailureSpec & { remaining: number })[] = [];

  add(spec: FailureSpec): void {
    this.pending.push({ ...spec, remaining: spec.times ?? 1 });
  }

  /** The failure the next request on `route` meets (counted as used), if any. */
  take(route: RequestRoute): FailureSpec | undefined {
    const failure = this.pending.find((f) => f.remaining > 0 && (!f.route || f.route === "any" || f.route === route));
    if (failure) {
      failure.remaining -= 1;
      this.pending = this.pending.filter((f) => f.remaining > 0);
    }
    return failure;
  }

  clear(): void {
    this.pending = [];
  }
}

/** Delays or holds the answer as `failure` says, then throws its status (with its retry-after). */
export async function applyFailure(failure: FailureSpec | undefined): Promise<void> {
  if (!failure) return;
  if (failure.delayMs) await sleep(failure.delayMs);
  if (failure.holdUntil) await failure.holdUntil;
  if (failure.status) {
    const headers: Record<string, string> = failure.retryAfter !== undefined ? { "retry-after": String(failure.retryAfter) } : {};
    throw new HttpError(failure.status, { code: "INJECTED_FAILURE", message: `injected ${failure.status}` }, headers);
  }
}
