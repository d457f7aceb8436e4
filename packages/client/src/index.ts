/**
 * @ledger-policy/billing-client — the product app's client for Ledger & Policy billing.
 * Server side: `createBillingClient` (check, consume, increment, usage, snapshot, track) and
 * `createBillingProxy` (the browser's door). Browser: `@ledger-policy/billing-client/react`.
 */
export { BillingClient, createBillingClient, type BillingClientOptions } from "./client";
export type { CallOptions, RetryOptions } from "./call";
export type { DecisionCacheOptions } from "./decision-cache";
export type { FallbackMode, FallbackOptions } from "./fallback";
export type { TrackerError, TrackerOptions, TrackerStats } from "./tracker";
export { createBillingProxy, type BillingProxyOptions } from "./proxy";
export { BillingClientError, isBillingError, type BillingErrorCode } from "./errors";
export { stringifyJSON, toJSONSafe, type JSONSafe } from "./json";
export * from "./catalogue";
export {
  BILLING_EVENT_TYPES,
  createWebhookHandler,
  isWebhookVerificationError,
  verifyWebhook,
  WebhookVerificationError,
  type BillingEventType,
  type BillingWebhookEvent,
  type EntitlementsChangedData,
  type SubscriptionChangedData,
  type VerifyWebhookOptions,
  type WebhookHandlerOptions,
  type WebhookHeaders,
  type WebhookVerificationReason,
} from "./webhooks";
export type * from "./types";
