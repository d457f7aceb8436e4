import { z } from "zod";
import { apiScopeSchema } from "@/server/billing/api-keys";

/** Zod schemas of `billing.apiKeys.*`. */

export const apiKeyOutput = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(apiScopeSchema),
  createdBy: z.string(),
  createdAt: z.date(),
  lastUsedAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
});

/** The new key and its secret: the only answer that ever holds the secret. */
export const createdApiKeyOutput = z.object({ key: apiKeyOutput, secret: z.string() });

export const createApiKeyInput = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(apiScopeSchema).min(1, "choose at least one scope"),
});

export const apiKeyIdInput = z.object({ id: z.uuid() });
