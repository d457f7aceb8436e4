import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { createApiKeyAsStaff, revokeApiKeyAsStaff } from "@/server/billing/api-keys";

import { apiKeyIdInput, apiKeyOutput, createApiKeyInput, createdApiKeyOutput } from "./api-keys.types";

/**
 * `billing.apiKeys.*`: the product app's API keys (admin). Each write records its audit row
 * in the same transaction as the write.
 */
export const apiKeysRouter = createTRPCRouter({
  /** Every product-app key with scopes and last use; never a secret (only its hash is stored). */
  list: staffProcedure("admin")
    .output(apiKeyOutput.array())
    .query(({ ctx }) => ctx.billing().apiKeys.list()),

  /** Creates a key; the secret is in this answer only and is never shown again. */
  create: staffProcedure("admin")
    .input(createApiKeyInput)
    .output(createdApiKeyOutput)
    .mutation(({ ctx, input }) => createApiKeyAsStaff(ctx.db(), input, ctx.actor)),

  revoke: staffProcedure("admin")
    .input(apiKeyIdInput)
    .output(apiKeyOutput)
    .mutation(({ ctx, input }) => revokeApiKeyAsStaff(ctx.db(), input.id, ctx.actor)),
});
