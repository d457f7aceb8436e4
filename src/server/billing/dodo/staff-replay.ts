import type { PrismaClient } from "@/server/db/client";

import { recordAudit } from "../audit-log";
import type { DodoBilling } from "./dodo-billing";
import { getWebhookEvent, type WebhookEventSummary } from "./webhook-events";
import type { HandleResult } from "./webhook-inbox";

/**
 * A staff replay of a stored webhook event, audit-logged. Knows nothing of tRPC or Next.
 *
 * The audit row is written right AFTER the replay, not in its transaction: the replay owns
 * its transaction (it locks the event row, processes under a savepoint and records a
 * failure under the same lock) and takes no caller's transaction. Writing the audit row
 * afterwards still records exactly what happened — including a replay that failed again,
 * whose failure the replay itself commits. A replay that did nothing (the event was already
 * processed or ignored: `duplicate`) is not a write and is not logged.
 */

export interface StaffReplayResult {
  result: HandleResult;
  /** The event as stored after the replay. */
  event: WebhookEventSummary;
}

const auditState = (e: WebhookEventSummary) => ({
  status: e.status,
  attempts: e.attempts,
  error: e.error,
  outcome: e.outcome,
  orgId: e.orgId,
  subscriptionId: e.subscriptionId,
});

export async function replayWebhookAsStaff(
  db: PrismaClient,
  service: Pick<DodoBilling, "replayWebhook">,
  webhookId: string,
  actor: string,
): Promise<StaffReplayResult> {
  // NOT_FOUND for an unknown id, before anything is attempted.
  const before = await getWebhookEvent(db, webhookId);
  const result = await service.replayWebhook(webhookId);
  // The answer carries the event's state, not its payload (the page already has that).
  const { payload: _payload, ...after } = await getWebhookEvent(db, webhookId);
  if (!result.duplicate) {
    await db.$transaction((tx) =>
      recordAudit(tx, {
        actor,
        action: "webhook_event.replay",
        target: { type: "webhook_event", id: webhookId },
        before: auditState(before),
        after: auditState(after),
      }),
    );
  }
  return { result, event: after };
}
