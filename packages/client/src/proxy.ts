import superjson from "superjson";

import { ACTIONS, type Action } from "./catalogue";
import type { BillingClient } from "./client";
import { isBillingError } from "./errors";

/**
 * The product backend's door for its browser UI: a fetch-API handler (a Next route handler's
 * `GET`, or any `Request → Response` server) that answers the React hooks. The browser never
 * holds the API key, and it can only ask about the org `identify` says the request belongs
 * to: there is no org parameter to forge, and only read-only questions are served.
 *
 *   // app/api/billing/route.ts
 *   export const GET = createBillingProxy({ client: billing, identify: async (req) => (await getSession(req))?.orgId ?? null });
 *
 * `GET ?op=snapshot` → the org's EntitlementSnapshot; `GET ?op=check&action=…[&amount=…]` →
 * a Decision. Bodies are superjson (bigints and Dates intact); the hooks decode them.
 */

export interface BillingProxyOptions {
  client: BillingClient;
  /** The signed-in user's org id, or null when the request is not signed in (→ 401). */
  identify: (request: Request) => string | null | undefined | Promise<string | null | undefined>;
  /** The actions the browser may ask about (default: all). */
  actions?: readonly Action[];
}

export function createBillingProxy(options: BillingProxyOptions): (request: Request) => Promise<Response> {
  const allowedActions = new Set<string>(options.actions ?? ACTIONS);
  return async (request) => {
    if (request.method !== "GET") return reply(405, { error: "method_not_allowed", message: "Only GET is served" });
    const params = new URL(request.url).searchParams;
    if (params.has("orgId"))
      return reply(400, { error: "org_from_session", message: "The org is the signed-in user's; do not send orgId" });
    const orgId = await options.identify(request);
    if (!orgId) return reply(401, { error: "unauthenticated", message: "Sign in to see billing" });
    try {
      const op = params.get("op");
      if (op === "snapshot") return reply(200, await options.client.snapshot({ orgId }, { signal: request.signal }));
      if (op === "check") {
        const action = params.get("action") ?? "";
        if (!allowedActions.has(action))
          return reply(400, { error: "unknown_action", message: `Not an action this proxy answers: ${action}` });
        const amount = params.get("amount");
        if (amount !== null && !/^\d{1,19}$/.test(amount))
          return reply(400, { error: "invalid_amount", message: "amount must be a positive integer" });
        const decision = await options.client.check(
          { orgId, action: action as Action, amount: amount ?? undefined },
          { signal: request.signal },
        );
        // A fallback's error is the client's, with its causes (internal hosts): the browser gets its code and message.
        return reply(
          200,
          decision.fallback ? { ...decision, error: { code: decision.error.code, message: decision.error.message } } : decision,
        );
      }
      return reply(400, { error: "unknown_op", message: "op must be snapshot or check" });
    } catch (error) {
      if (!isBillingError(error)) throw error;
      // An outage is 503; a refusal about the question (a bad amount, an unknown org) keeps its
      // status; anything else (the backend's own key refused) is the backend's fault: 502.
      const status = error.unavailable ? 503 : error.code === "BAD_REQUEST" || error.code === "NOT_FOUND" ? (error.httpStatus ?? 400) : 502;
      return reply(status, { error: error.code.toLowerCase(), message: error.message });
    }
  };
}

function reply(status: number, body: unknown): Response {
  return new Response(superjson.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
