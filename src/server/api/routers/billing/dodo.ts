import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { createDodoClient } from "@/server/billing/dodo/client";
import { listUnsentOutboxRows, outboxStatus } from "@/server/billing/dodo/outbox-status";
import { replayWebhookAsStaff } from "@/server/billing/dodo/staff-replay";
import { resyncOrganization } from "@/server/billing/dodo/staff-resync";
import { getSubscriptionPanel } from "@/server/billing/dodo/subscription-panel";
import { countWebhookEvents, getWebhookEvent, listWebhookEvents } from "@/server/billing/dodo/webhook-events";
import { getDodoOverview } from "@/server/billing/overview";

import {
  dodoOverviewOutput,
  orgInput,
  outboxRowsInput,
  outboxRowsOutput,
  outboxStatusInput,
  outboxStatusOutput,
  replayOutput,
  resyncInput,
  resyncOutput,
  subscriptionPanelOutput,
  webhookEventOutput,
  webhookIdInput,
  webhookListInput,
  webhookListOutput,
} from "./dodo.types";

/**
 * `billing.dodo.*`: the staff view of Dodo Payments — webhook deliveries (and replaying a
 * failed one), usage-reporting status, an organization's subscription and a resync from the
 * Dodo API. Viewers read everything; replay and resync are admin writes, audit-logged.
 */

/** A staff click should not wait minutes on an unreachable Dodo: one retry, 15 s per request. */
const STAFF_DODO_CLIENT = { maxRetries: 1, timeout: 15_000 };

const webhooksRouter = createTRPCRouter({
  /** Deliveries newest first (keyset `nextCursor`), with per-status counts under the same filter. */
  list: staffProcedure("viewer")
    .input(webhookListInput)
    .output(webhookListOutput)
    .query(async ({ ctx, input }) => {
      const db = ctx.db();
      const [page, counts] = await Promise.all([
        listWebhookEvents(db, input.filter, { cursor: input.cursor, limit: input.limit }),
        countWebhookEvents(db, { ...input.filter, statuses: undefined }),
      ]);
      return { ...page, counts };
    }),

  /** One delivery with its payload; NOT_FOUND for an unknown webhook-id. */
  get: staffProcedure("viewer")
    .input(webhookIdInput)
    .output(webhookEventOutput)
    .query(({ ctx, input }) => getWebhookEvent(ctx.db(), input.id)),

  /**
   * Processes a stored failed / needs-attention event again from its payload, at most once
   * (an event already processed answers `duplicate: true` and is left alone). Audit-logged.
   */
  replay: staffProcedure("admin")
    .input(webhookIdInput)
    .output(replayOutput)
    .mutation(({ ctx, input }) => replayWebhookAsStaff(ctx.db(), ctx.billing().dodo, input.id, ctx.actor)),
});

const usageReportingRouter = createTRPCRouter({
  /** Outbox rows per status and the age of the oldest pending one (overall, or one org's). */
  status: staffProcedure("viewer")
    .input(outboxStatusInput)
    .output(outboxStatusOutput)
    .query(({ ctx, input }) => outboxStatus(ctx.db(), { orgId: input.orgId })),

  /** Expired and failed rows (usage that did not reach Dodo), newest event first. */
  rows: staffProcedure("viewer")
    .input(outboxRowsInput)
    .output(outboxRowsOutput)
    .query(({ ctx, input }) => listUnsentOutboxRows(ctx.db(), input.filter, { cursor: input.cursor, limit: input.limit })),
});

export const dodoRouter = createTRPCRouter({
  webhooks: webhooksRouter,
  usageReporting: usageReportingRouter,

  /** Webhook failures and outbox lag, for the overview page. */
  overview: staffProcedure("viewer")
    .output(dodoOverviewOutput)
    .query(({ ctx }) => getDodoOverview(ctx.db())),

  /** The org's subscription as the policy uses it; NOT_FOUND for an unknown org. */
  subscription: staffProcedure("viewer")
    .input(orgInput)
    .output(subscriptionPanelOutput)
    .query(({ ctx, input }) => getSubscriptionPanel(ctx.db(), input.orgId)),

  /**
   * Fetches the org's known subscriptions — or, without `orgId`, every known subscription —
   * from the Dodo API and syncs them (admin). PRECONDITION_FAILED "DODO_PAYMENTS_API_KEY is
   * not set" without an API key. Audit-logged.
   */
  resync: staffProcedure("admin")
    .input(resyncInput)
    .output(resyncOutput)
    .mutation(({ ctx, input }) =>
      resyncOrganization(ctx.db(), ctx.billing().dodo, createDodoClient(STAFF_DODO_CLIENT), input.orgId, ctx.actor),
    ),
});
