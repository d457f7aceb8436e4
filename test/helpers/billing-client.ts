import { TRPCClientError } from "@trpc/client";
import { expect } from "vitest";

import { createBillingClient, type BillingClient } from "@/client";
import { ApiKeyService, type ApiScope } from "@/server/billing/api-keys";
import type { PrismaClient } from "@/server/db/client";

import type { RouteServer } from "./route-server";

export const ALL_SCOPES: ApiScope[] = ["usage:read", "usage:write", "entitlements:read"];

/**
 * The product app's typed client on a route server's `/api/trpc`, with a new API key holding
 * `scopes`. `batch: false` sends every call as its own HTTP request (concurrent calls are
 * then concurrent requests, not one batch).
 */
export async function billingClient(
  prisma: PrismaClient,
  server: RouteServer,
  scopes: ApiScope[] = ALL_SCOPES,
  options: { batch?: boolean } = {},
): Promise<{ client: BillingClient; secret: string; keyId: string }> {
  const { key, secret } = await new ApiKeyService(prisma).create({
    name: `http-${scopes.join("+") || "none"}`,
    scopes,
    createdBy: "vitest",
  });
  return { client: createBillingClient({ url: `${server.origin}/api/trpc`, apiKey: secret, batch: options.batch }), secret, keyId: key.id };
}

/** The `data` of the TRPCClientError a call over HTTP failed with (`code`, `httpStatus`, `reason`, `zodIssues`). */
export async function errorData(call: Promise<unknown>): Promise<Record<string, unknown>> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the call to fail").toBeInstanceOf(TRPCClientError);
  return (error as TRPCClientError<never>).data as unknown as Record<string, unknown>;
}
