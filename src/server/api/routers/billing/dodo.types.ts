import { z } from "zod";

import { OUTBOX_STATUSES, outboxCursorSchema, outboxRowsFilterSchema } from "@/server/billing/dodo/outbox-status";
import { webhookCursorSchema, webhookEventFilterSchema, webhookStatusSchema } from "@/server/billing/dodo/webhook-events";
import { WEBHOOK_STATUSES } from "@/server/billing/dodo/webhook-status";
import { keysetPageSchema } from "@/server/billing/keyset-page";
import { orgIdSchema, pageLimitSchema } from "@/server/billing/schemas";

/** Zod schemas of `billing.dodo.*`: webhooks, usage reporting, the org's subscription, resync. */

/** A `webhook-id` as Dodo sends it (Standard Webhooks: `msg_…`); stored as given. */
export const webhookIdSchema = z.string().trim().min(1).max(200);

export const webhookListInput = z.object({
  filter: webhookEventFilterSchema.default({}),
  cursor: webhookCursorSchema.optional(),
  limit: pageLimitSchema(50),
});

const webhookEventSummary = z.object({
  id: z.string(),
  type: z.string(),
  status: z.string(),
  attempts: z.number().int(),
  error: z.string().nullable(),
  outcome: z.string().nullable(),
  orgId: z.string().nullable(),
  orgName: z.string().nullable(),
  subscriptionId: z.string().nullable(),
  eventTimestamp: z.date().nullable(),
  receivedAt: z.date(),
  processedAt: z.date().nullable(),
});

const statusCounts = z.object(
  Object.fromEntries(WEBHOOK_STATUSES.map((s) => [s, z.number().int().nonnegative()])) as Record<
    (typeof WEBHOOK_STATUSES)[number],
    z.ZodNumber
  >,
);

export const webhookListOutput = keysetPageSchema(webhookEventSummary, webhookCursorSchema).extend({
  /** Events per status under the same filter minus its statuses (the page's status tabs). */
  counts: statusCounts,
});

export const webhookIdInput = z.object({ id: webhookIdSchema });

export const webhookEventOutput = webhookEventSummary.extend({ payload: z.unknown() });

export const replayOutput = z.object({
  result: z.object({
    webhookId: z.string(),
    duplicate: z.boolean(),
    status: webhookStatusSchema,
    attempts: z.number().int().optional(),
    outcome: z.string().optional(),
    error: z.string().optional(),
  }),
  event: webhookEventSummary,
});

export const outboxStatusInput = z.object({ orgId: orgIdSchema.optional() }).default({});

export const outboxStatusOutput = z.object({
  counts: z.object(
    Object.fromEntries(OUTBOX_STATUSES.map((s) => [s, z.bigint().nonnegative()])) as Record<(typeof OUTBOX_STATUSES)[number], z.ZodBigInt>,
  ),
  oldestPendingAt: z.date().nullable(),
  oldestPendingAgeSeconds: z.number().int().nonnegative().nullable(),
  measuredAt: z.date(),
});

export const outboxRowsInput = z.object({
  filter: outboxRowsFilterSchema.default({ statuses: ["expired", "failed"] }),
  cursor: outboxCursorSchema.optional(),
  limit: pageLimitSchema(50),
});

const outboxRowOutput = z.object({
  orgId: z.string(),
  orgName: z.string().nullable(),
  ledgerId: z.string(),
  metric: z.string(),
  eventName: z.string(),
  customerId: z.string(),
  subscriptionId: z.string(),
  quantity: z.bigint(),
  eventTimestamp: z.date(),
  status: z.string(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  updatedAt: z.date(),
});

export const outboxRowsOutput = keysetPageSchema(outboxRowOutput, outboxCursorSchema);

export const orgInput = z.object({ orgId: orgIdSchema });
/** One organization's subscriptions, or (no orgId) every known subscription. */
export const resyncInput = z.object({ orgId: orgIdSchema.optional() });

export const subscriptionPanelOutput = z.object({
  orgId: z.string(),
  effective: z.object({
    planId: z.string(),
    planName: z.string(),
    subscriptionStatus: z.string(),
    standing: z.enum(["good", "grace", "lapsed"]),
    graceEndsAt: z.date().nullable(),
  }),
  subscription: z
    .object({
      id: z.string(),
      productId: z.string(),
      plan: z.object({ id: z.string(), name: z.string() }).nullable(),
      status: z.string(),
      quantity: z.number().int(),
      currentPeriodStart: z.date().nullable(),
      currentPeriodEnd: z.date().nullable(),
      cancelAtPeriodEnd: z.boolean(),
      cancelledAt: z.date().nullable(),
      expiresAt: z.date().nullable(),
      customerId: z.string().nullable(),
      lastEventAt: z.date().nullable(),
      lastEventId: z.string().nullable(),
      lastEventIsWebhook: z.boolean(),
      updatedAt: z.date(),
    })
    .nullable(),
  otherSubscriptions: z.number().int().nonnegative(),
});

export const resyncOutput = z.object({
  checked: z.number().int().nonnegative(),
  synced: z.number().int().nonnegative(),
  stale: z.number().int().nonnegative(),
  problems: z.array(z.object({ subscriptionId: z.string(), error: z.string() })),
});

export const dodoOverviewOutput = z.object({
  webhooks: z.object({
    failed: z.number().int().nonnegative(),
    needsAttention: z.number().int().nonnegative(),
    problems: z.number().int().nonnegative(),
  }),
  outbox: z.object({
    pending: z.bigint().nonnegative(),
    oldestPendingAt: z.date().nullable(),
    oldestPendingAgeSeconds: z.number().int().nonnegative().nullable(),
    expired: z.bigint().nonnegative(),
    failed: z.bigint().nonnegative(),
  }),
  measuredAt: z.date(),
});
