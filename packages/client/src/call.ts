import { BillingClientError } from "./errors";
import { callProcedure, type ProcedureType, type TransportConfig } from "./transport";

/**
 * A call with a deadline and retries. `timeoutMs` bounds the whole call, retries included:
 * the product app's request waits at most that long, whatever happens. A retry is made only
 * when the service could not answer (timeout, network, 5xx, 429) and the call is safe to
 * repeat: a query, or a mutation the server dedupes by idempotency key.
 */

export interface RetryOptions {
  /** Attempts in all, the first included (default 3; 1 turns retries off). */
  attempts?: number;
  /** The first back-off; doubled after each attempt, with jitter (default 50 ms). */
  initialDelayMs?: number;
  /** The longest back-off (default 500 ms). */
  maxDelayMs?: number;
}

export interface CallPolicy {
  transport: TransportConfig;
  timeoutMs: number;
  retry: Required<RetryOptions>;
}

export interface CallOptions {
  /** Aborts the call (code ABORTED). */
  signal?: AbortSignal;
  /** This call's own budget, instead of the client's `timeoutMs`. */
  timeoutMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 3, initialDelayMs: 50, maxDelayMs: 500 };

export async function runCall(
  policy: CallPolicy,
  type: ProcedureType,
  path: string,
  input: unknown,
  repeatable: boolean,
  options: CallOptions = {},
): Promise<unknown> {
  const budget = options.timeoutMs ?? policy.timeoutMs;
  const deadline = Date.now() + budget;
  const attempts = repeatable ? Math.max(1, policy.retry.attempts) : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptOnce(policy.transport, type, path, input, deadline, budget, options.signal);
    } catch (error) {
      const retryable = error instanceof BillingClientError && error.unavailable;
      const delay = backoff(policy.retry, attempt);
      if (!retryable || attempt >= attempts || Date.now() + delay >= deadline || options.signal?.aborted) throw error;
      await sleep(delay, options.signal);
    }
  }
}

async function attemptOnce(
  transport: TransportConfig,
  type: ProcedureType,
  path: string,
  input: unknown,
  deadline: number,
  budget: number,
  callerSignal: AbortSignal | undefined,
): Promise<unknown> {
  const controller = new AbortController();
  // The error is made only when the deadline passes: an Error's stack costs more than the rest of a call's set-up.
  const timer = setTimeout(
    () =>
      controller.abort(
        new BillingClientError({ code: "TIMEOUT", message: `No answer from the billing service within ${budget} ms`, path }),
      ),
    Math.max(0, deadline - Date.now()),
  );
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) onCallerAbort();
  callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
  try {
    return await callProcedure(transport, type, path, input, controller.signal);
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener("abort", onCallerAbort);
  }
}

/** Exponential back-off with "equal jitter": half fixed, half random, so retries spread out. */
export function backoff(retry: Required<RetryOptions>, attempt: number): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
