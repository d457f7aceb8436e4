import { env } from "@/server/env";

import { billing } from "../index";
import type { DodoBilling } from "./dodo-billing";
import { createWebhookHandler } from "./webhook-handler";

export { DodoBilling } from "./dodo-billing";
export { type HandleResult } from "./webhook-inbox";
export { WebhookProblem, type SyncResult } from "./subscription-sync";
export { type DodoSubscriptionsApi, type ReconcileReport } from "./reconcile";
export { createDodoClient } from "./client";
export { PROBLEM_STATUSES, WEBHOOK_STATUSES, type WebhookStatus } from "./webhook-status";
export { parseDelivery, subscriptionDataSchema, webhookEnvelopeSchema, type SubscriptionEvent } from "./events";
export { createWebhookHandler, MAX_WEBHOOK_BYTES, webhookRejections } from "./webhook-handler";
export { verifyWebhook } from "./verify";

/** The process-wide Dodo billing service (one of the process-wide domain services). */
export function dodoBilling(): DodoBilling {
  return billing().dodo;
}

let handler: ((request: Request) => Promise<Response>) | undefined;

/** The webhook endpoint over the environment's keys (`DODO_PAYMENTS_WEBHOOK_KEY`) and `dodoBilling()`. */
export function dodoWebhookHandler(): (request: Request) => Promise<Response> {
  handler ??= createWebhookHandler({ keys: env().DODO_PAYMENTS_WEBHOOK_KEY, service: dodoBilling() });
  return handler;
}
