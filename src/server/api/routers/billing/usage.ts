import { apiKeyProcedure, createTRPCRouter } from "@/server/api/trpc";

import { getUsageInput, getUsageOutput, incrementInput, incrementManyInput, incrementManyOutput, incrementOutput } from "./usage.types";

/** `billing.usage.*`: the product app records and reads usage. Thin adapters over UsageService. */
export const usageRouter = createTRPCRouter({
  increment: apiKeyProcedure("usage:write")
    .input(incrementInput)
    .output(incrementOutput)
    .mutation(({ ctx, input }) =>
      ctx.billing().usage.increment(input.orgId, input.metric, input.amount, input.reason, {
        idempotencyKey: input.idempotencyKey,
        metadata: input.metadata,
        actor: ctx.actor,
      }),
    ),

  incrementMany: apiKeyProcedure("usage:write")
    .input(incrementManyInput)
    .output(incrementManyOutput)
    .mutation(async ({ ctx, input }) => ({
      results: await ctx.billing().usage.incrementMany(input.events, { atomic: input.atomic, actor: ctx.actor }),
    })),

  get: apiKeyProcedure("usage:read")
    .input(getUsageInput)
    .output(getUsageOutput)
    .query(({ ctx, input }) => ctx.billing().entitlements.usageSummary(input.orgId)),
});
