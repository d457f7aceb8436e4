import type { Action } from "./catalogue";
import type { BillingClientError } from "./errors";
import type { FallbackDecision } from "./types";

/**
 * What a decision is when the service cannot be reached. "closed" denies (the safe default
 * for anything that costs money), "open" allows (for actions whose outage must not stop the
 * product, e.g. `api.call` on a tracked counter), "throw" raises the BillingClientError.
 * Either way the answer says `fallback: true`, so the app can log that nobody decided.
 */
export type FallbackMode = "open" | "closed" | "throw";

export interface FallbackOptions {
  /** For every action not listed below (default "closed"). */
  default?: FallbackMode;
  actions?: Partial<Record<Action, FallbackMode>>;
}

export function fallbackDecision(options: FallbackOptions | undefined, action: Action, error: BillingClientError): FallbackDecision {
  const mode = options?.actions?.[action] ?? options?.default ?? "closed";
  if (mode === "throw") throw error;
  return {
    allowed: mode === "open",
    fallback: true,
    reason: {
      code: "billing_unavailable",
      message: `The billing service could not be reached (${error.code}); ${action} ${mode === "open" ? "allowed" : "denied"} by the client's fallback`,
    },
    error,
  };
}
