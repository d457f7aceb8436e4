import { prisma } from "@/server/db/client";
import { env } from "@/server/env";
import { billing } from "../index";
import { BillingService } from "./billing-service";
import { createWebhookHandler } from "./webhook-handler";

export {
  BillingService,
  WebhookProblem,
  WEBHOOK_STATUSES,
  type DodoSubscriptionsApi,
  type HandleResult,
  type ReconcileReport,
  type SyncResult,
  type WebhookStatus,
} from "./billing-service";
export { createDodoClient } from "./client";
export { parseDelivery, subscriptionDataSchema, webhookEnvelopeSchema, type SubscriptionEvent } from "./events";
export { createWebhookHandler, MAX_WEBHOOK_BYTES, webhookRejections } from "./webhook-handler";
export { verifyWebhook } from "./verify";

let shared: BillingService | undefined;

/** The process-wide Dodo billing service (over the process-wide client and usage service). */
export function dodoBilling(): BillingService {
  shared ??= new BillingService(prisma(), billing().usage);
  return shared;
}

let handler: ((request: Request) => Promise<Response>) | undefined;

/** The webhook endpoint over the environment's keys (`DODO_PAYMENTS_WEBHOOK_KEY`) and `dodoBilling()`. */
export function dodoWebhookHandler(): (request: Request) => Promise<Response> {
  handler ??= createWebhookHandler({ keys: env().DODO_PAYMENTS_WEBHOOK_KEY, service: dodoBilling() });
  return handler;
}
