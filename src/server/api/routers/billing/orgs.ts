import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { listOrganizations } from "@/server/billing/organizations";
import { getBillingOverview } from "@/server/billing/overview";
import { listOrgsInput, listOrgsOutput, orgsStatsOutput } from "./orgs.types";

/**
 * `billing.orgs.*`: the staff view of organizations. Thin adapters: validate, call the
 * domain module, validate the answer.
 */
export const orgsRouter = createTRPCRouter({
  /** One page of organizations (ordered by name, id) with plan, status and cached usage. */
  list: staffProcedure("viewer")
    .input(listOrgsInput)
    .output(listOrgsOutput)
    .query(({ ctx, input }) =>
      listOrganizations(ctx.db(), {
        search: input.search || undefined,
        planId: input.plan,
        page: input.cursor ?? input.page,
        pageSize: input.pageSize,
      }),
    ),

  /**
   * Headline numbers for the overview page: organizations, active subscriptions, and the
   * cache-vs-ledger integrity check. (May move to a dashboard router with the staff issue.)
   */
  stats: staffProcedure("viewer").output(orgsStatsOutput).query(({ ctx }) => getBillingOverview(ctx.db())),
});
