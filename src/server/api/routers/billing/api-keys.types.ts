import { z } from "zod";

import { apiScopeSchema } from "@/server/billing/api-keys";

/** Zod schemas of `billing.apiKeys.*`. The inputs are the domain's, re-exported (never re-declared). */

export { createApiKeyInput } from "@/server/billing/api-keys";
export { rowIdInput as apiKeyIdInput } from "@/server/billing/schemas";

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
