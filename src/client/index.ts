import { createTRPCClient, httpBatchLink, httpLink, splitLink } from "@trpc/client";

import type { AppRouter } from "../server/api/root";
import { transformer } from "../trpc/transformer";

export type { AppRouter, RouterInputs, RouterOutputs } from "../server/api/root";

export interface BillingClientOptions {
  /** The billing server's tRPC endpoint, e.g. `https://billing.internal/api/trpc`. */
  url: string;
  /** A product-app API key (`npm run create-api-key`). Sent as `Authorization: Bearer …`. */
  apiKey: string;
  /** Batch concurrent calls into one HTTP request (default true). */
  batch?: boolean;
  fetch?: typeof fetch;
}

/**
 * The typed client the product app imports:
 *
 *   const billing = createBillingClient({ url, apiKey });
 *   const { allowed, reason } = await billing.billing.entitlements.consume.mutate({
 *     orgId, action: "member.add", idempotencyKey: `invite:${inviteId}`,
 *   });
 *
 * Counts are BigInt end to end (superjson). Errors are TRPCClientError with `data.code`
 * (BAD_REQUEST, NOT_FOUND, UNAUTHORIZED, FORBIDDEN, CONFLICT) and `data.reason`.
 */
export function createBillingClient(options: BillingClientOptions) {
  const headers = () => ({ authorization: `Bearer ${options.apiKey}` });
  const common = { url: options.url, transformer, headers, fetch: options.fetch };
  // incrementMany can carry 10 000 events: never batch it with others into one giant request.
  const link =
    options.batch === false
      ? httpLink(common)
      : splitLink({ condition: (op) => op.path === "billing.usage.incrementMany", true: httpLink(common), false: httpBatchLink(common) });
  return createTRPCClient<AppRouter>({ links: [link] });
}

export type BillingClient = ReturnType<typeof createBillingClient>;
