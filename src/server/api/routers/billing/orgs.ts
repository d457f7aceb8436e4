import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { adjustUsageAsStaff } from "@/server/billing/adjustments";
import { listDenials } from "@/server/billing/denials";
import { getOrganizationDetail } from "@/server/billing/org-insights";
import { listOrganizations } from "@/server/billing/organizations";
import { getBillingOverview } from "@/server/billing/overview";

import {
  adjustUsageInput,
  getOrgInput,
  listDenialsInput,
  listDenialsOutput,
  listOrgsInput,
  listOrgsOutput,
  orgDetailOutput,
  orgsStatsOutput,
} from "./orgs.types";
import { incrementOutput } from "./usage.types";

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
        near: input.near,
        sort: input.sort,
      }),
    ),

  /**
   * Headline numbers for the overview page: organizations, active subscriptions, orgs near
   * their limits, and the cache-vs-ledger integrity check.
   */
  stats: staffProcedure("viewer")
    .output(orgsStatsOutput)
    .query(({ ctx }) => getBillingOverview(ctx.db())),

  /**
   * One organization for its page: header, usage against limits (`usageSummary`), active
   * overrides, recent denials and 90 days of daily usage. NOT_FOUND for an unknown id.
   */
  get: staffProcedure("viewer")
    .input(getOrgInput)
    .output(orgDetailOutput)
    .query(({ ctx, input }) => getOrganizationDetail(ctx.db(), ctx.billing().entitlements, input.orgId)),

  /** Recorded policy denials, newest first: one org's, or across orgs (the overview). */
  denials: staffProcedure("viewer")
    .input(listDenialsInput)
    .output(listDenialsOutput)
    .query(({ ctx, input }) => listDenials(ctx.db(), input)),

  /**
   * A manual adjustment (admin): a signed `manual_adjustment` ledger row with the actor, and
   * its audit row, in one transaction. The client's idempotency key makes a double submit
   * apply once; a gauge below zero is a CONFLICT (`gauge_below_zero`) and changes nothing.
   */
  adjust: staffProcedure("admin")
    .input(adjustUsageInput)
    .output(incrementOutput)
    .mutation(({ ctx, input }) => adjustUsageAsStaff(ctx.db(), ctx.billing().usage, input, ctx.actor)),
});
