import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { revokeOverrideAsStaff, setOverrideAsStaff } from "@/server/billing/limit-overrides";

import { limitOverrideOutput, listOverridesInput, overrideIdInput, setOverrideInput } from "./overrides.types";

/**
 * `billing.overrides.*`: per-org limit overrides. Viewers read them; setting and revoking
 * are admin writes, each with its audit row in the same transaction as the write.
 */
export const overridesRouter = createTRPCRouter({
  /** Sets a per-org limit for one metric (replacing the plan's) until it expires or is revoked. */
  set: staffProcedure("admin")
    .input(setOverrideInput)
    .output(limitOverrideOutput)
    .mutation(({ ctx, input }) => setOverrideAsStaff(ctx.db(), input, ctx.actor)),

  revoke: staffProcedure("admin")
    .input(overrideIdInput)
    .output(limitOverrideOutput)
    .mutation(({ ctx, input }) => revokeOverrideAsStaff(ctx.db(), input.id, ctx.actor)),

  /** Every override of an org, newest first, active or not. */
  list: staffProcedure("viewer")
    .input(listOverridesInput)
    .output(limitOverrideOutput.array())
    .query(({ ctx, input }) => ctx.billing().overrides.list(input.orgId)),
});
