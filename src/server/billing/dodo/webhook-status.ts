/**
 * The statuses of a stored webhook delivery (`webhook_events.status`). Imports nothing, so
 * pages under src/app can use them without pulling the database client into their bundle.
 */

export const WEBHOOK_STATUSES = ["received", "processed", "ignored", "failed", "needs_attention"] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/** Statuses staff must look at: a failure Dodo keeps retrying, or one that never will succeed as is. */
export const PROBLEM_STATUSES = ["failed", "needs_attention"] as const satisfies readonly WebhookStatus[];
