import type { IncomingMessage, ServerResponse } from "node:http";

import { createHTTPHandler } from "@trpc/server/adapters/standalone";

import { serveDirect, toHeaders } from "./product-api-direct";
import { appRouter } from "./root";
import { createTRPCContext, logUnexpectedError } from "./trpc";

/**
 * The product app's way into the API: `/api/trpc` calls carrying `Authorization: Bearer …`,
 * served by tRPC's node adapter straight from the node:http server in front of Next
 * (scripts/next-server.ts), so they skip Next's request pipeline (its router, the route
 * module, web Request/Response and streams), which costs more CPU per call than the
 * billing work itself (README, "Benchmark").
 *
 * It is not a second API: the SAME appRouter (its procedures, scopes, error formatter and
 * input edge — the transformer in input-edge.ts), the SAME context (createTRPCContext: the
 * process-wide database and services Next's route shares, API-key authentication and scopes
 * in apiKeyProcedure, the audit that writes record), the same error log. Everything else —
 * the dashboard, staff calls (cookies), other routes — goes to Next unchanged, and with
 * BILLING_API_VIA_NEXT=1 API-key calls do too (src/app/api/trpc/[trpc]/route.ts).
 */

export const TRPC_ENDPOINT = "/api/trpc";

/** A call the lean path takes: under /api/trpc/, with a bearer credential (an API key). */
export function isApiKeyCall(req: IncomingMessage): boolean {
  const { url = "", headers } = req;
  return url.startsWith(`${TRPC_ENDPOINT}/`) && typeof headers.authorization === "string" && /^Bearer\s/i.test(headers.authorization);
}

export interface ProductApiHandler {
  /** Whether this request is the lean path's (isApiKeyCall). */
  takes(req: IncomingMessage): boolean;
  serve(req: IncomingMessage, res: ServerResponse): void;
}

export function createProductApiHandler(): ProductApiHandler {
  const viaAdapter = createHTTPHandler({
    router: appRouter,
    basePath: `${TRPC_ENDPOINT}/`,
    createContext: ({ req }) => createTRPCContext({ headers: toHeaders(req.headers) }),
    onError: logUnexpectedError,
  });
  const basePath = `${TRPC_ENDPOINT}/`;
  // One unbatched call skips the adapter's Fetch Request/Response (product-api-direct.ts);
  // anything else it does not take goes through the adapter as before.
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    if (!serveDirect(req, res, basePath)) void viaAdapter(req, res);
  };
  return { takes: isApiKeyCall, serve };
}
