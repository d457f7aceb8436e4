import DodoPayments from "dodopayments";

import { env } from "@/server/env";

/**
 * The official SDK client from the environment: `DODO_PAYMENTS_API_KEY`, and
 * `DODO_PAYMENTS_BASE_URL` (e.g. the fake Dodo on 127.0.0.1) when set. Null without a key.
 */
export function createDodoClient(
  overrides: { apiKey?: string; baseURL?: string; maxRetries?: number; timeout?: number } = {},
): DodoPayments | null {
  const apiKey = overrides.apiKey ?? env().DODO_PAYMENTS_API_KEY;
  if (!apiKey) return null;
  return new DodoPayments({
    bearerToken: apiKey,
    baseURL: overrides.baseURL ?? env().DODO_PAYMENTS_BASE_URL ?? null,
    // Webhooks are verified by the route with every configured key, not by the SDK.
    webhookKey: null,
    ...(overrides.maxRetries !== undefined ? { maxRetries: overrides.maxRetries } : {}),
    ...(overrides.timeout !== undefined ? { timeout: overrides.timeout } : {}),
  });
}
