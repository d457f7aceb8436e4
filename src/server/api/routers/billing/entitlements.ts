import { apiKeyProcedure, createTRPCRouter } from "@/server/api/trpc";

import { checkInput, consumeInput, consumeOutput, decisionSchema, snapshotInput, snapshotOutput } from "./entitlements.types";

/** `billing.entitlements.*`: "may this org do X?". Thin adapters over EntitlementService. */
export const entitlementsRouter = createTRPCRouter({
  check: apiKeyProcedure("entitlements:read")
    .input(checkInput)
    .output(decisionSchema)
    .query(({ ctx, input }) => ctx.billing().entitlements.check(input.orgId, input.action, { amount: input.amount })),

  /** Check and record in one atomic step; needs both the entitlements and the usage scope. */
  consume: apiKeyProcedure("entitlements:read", "usage:write")
    .input(consumeInput)
    .output(consumeOutput)
    .mutation(({ ctx, input }) =>
      ctx.billing().entitlements.consume(input.orgId, input.action, {
        amount: input.amount,
        idempotencyKey: input.idempotencyKey,
        metadata: input.metadata,
        actor: ctx.actor,
      }),
    ),

  /** Plan, standing, every metric and every feature for a product page, as of one read. */
  snapshot: apiKeyProcedure("entitlements:read")
    .input(snapshotInput)
    .output(snapshotOutput)
    .query(({ ctx, input }) => ctx.billing().entitlements.snapshot(input.orgId)),
});
