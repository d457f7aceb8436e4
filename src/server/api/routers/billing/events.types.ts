import { z } from "zod";

import { deliveryCursorSchema, deliveryFilterSchema } from "@/server/billing/events/deliveries";
import { BILLING_EVENT_TYPES, DELIVERY_STATUSES } from "@/server/billing/events/event-types";
import { keysetPageSchema } from "@/server/billing/keyset-page";
import { pageLimitSchema } from "@/server/billing/schemas";

/** Zod schemas of `billing.events.*`. The inputs are the domain's, re-exported (never re-declared). */

export { createEndpointInput, updateEndpointInput } from "@/server/billing/events/endpoints";
export { rowIdInput as endpointIdInput, rowIdInput as deliveryIdInput } from "@/server/billing/schemas";

export const endpointOutput = z.object({
  id: z.uuid(),
  url: z.string(),
  description: z.string(),
  eventTypes: z.array(z.string()),
  enabled: z.boolean(),
  previousSecretExpiresAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});

/** The endpoint and its new secret: the only answers that ever hold a secret (create, rotate). */
export const endpointWithSecretOutput = z.object({ endpoint: endpointOutput, secret: z.string() });

export const testEventOutput = z.object({ eventId: z.string(), deliveryId: z.uuid() });

export const deliveryListInput = z.object({
  filter: deliveryFilterSchema.default({}),
  cursor: deliveryCursorSchema.optional(),
  limit: pageLimitSchema(50),
});

const deliverySummary = z.object({
  id: z.uuid(),
  eventId: z.string(),
  eventType: z.enum(BILLING_EVENT_TYPES).or(z.string()),
  orgId: z.uuid(),
  endpointId: z.uuid(),
  endpointUrl: z.string(),
  status: z.enum(DELIVERY_STATUSES).or(z.string()),
  attempts: z.number().int(),
  nextAttemptAt: z.date(),
  lastAttemptAt: z.date().nullable(),
  deliveredAt: z.date().nullable(),
  responseStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.date(),
});

export const deliveryListOutput = keysetPageSchema(deliverySummary, deliveryCursorSchema);

export const deliveryOutput = deliverySummary.extend({
  responseBody: z.string().nullable(),
  envelope: z.object({
    id: z.string(),
    type: z.string(),
    orgId: z.string(),
    occurredAt: z.string(),
    version: z.number().int(),
    data: z.record(z.string(), z.unknown()),
  }),
  history: z.array(
    z.object({
      attempt: z.number().int(),
      attemptedAt: z.date(),
      durationMs: z.number().int(),
      responseStatus: z.number().int().nullable(),
      responseBody: z.string().nullable(),
      error: z.string().nullable(),
    }),
  ),
});

export const failingEndpointsOutput = z.array(
  z.object({
    id: z.uuid(),
    url: z.string(),
    deadLetters: z.number().int(),
    consecutiveFailures: z.number().int(),
    lastError: z.string().nullable(),
  }),
);
