/**
 * @ledger-policy/billing-client/react — the product UI's billing hooks. They talk to the
 * product backend's `createBillingProxy` route, never to the billing service: the browser
 * holds no API key and sees only its own org.
 */
export { BillingProvider, useEntitlement, useUsage, type BillingProviderProps, type EntitlementState, type UsageState } from "./hooks";
export { formatAmount, UpgradePrompt, UsageMeter, type UpgradePromptProps, type UsageMeterProps } from "./components";
export { BillingProxyError, type QueryState } from "./store";
export { stringifyJSON, toJSONSafe, type JSONSafe } from "../json";
export * from "../catalogue";
export type * from "../types";
