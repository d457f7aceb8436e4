import type { PrismaClient } from "@/server/db/client";
import { errorLine } from "@/server/db/pg-errors";
import type { TransactionOptions, Tx } from "@/server/db/tx";

import { BillingError } from "../errors";
import { isSubscriptionEventType, parseDelivery, type ParsedDelivery, type SubscriptionEvent } from "./events";
import { WebhookProblem, type SyncResult } from "./subscription-sync";
import type { WebhookStatus } from "./webhook-status";

/**
 * The Dodo webhook inbox: every verified delivery is recorded in `webhook_events` (keyed by
 * webhook-id) and processed at most once, a staff replay included. Knows nothing of Next or
 * HTTP: the route verifies the signature and hands over the body.
 */

/** Statuses after which a repeated delivery is acknowledged without processing. */
const FINAL_STATUSES: ReadonlySet<string> = new Set(["processed", "ignored", "needs_attention"]);
/** What a (re)delivery from Dodo processes; a staff replay also retries needs_attention. */
const RETRYABLE_ON_DELIVERY: ReadonlySet<string> = new Set(["received", "failed"]);
const RETRYABLE_ON_REPLAY: ReadonlySet<string> = new Set(["received", "failed", "needs_attention"]);

export interface WebhookDelivery {
  /** The `webhook-id` header (already verified). */
  webhookId: string;
  /** The raw body, exactly as signed. */
  rawBody: string;
}

export type HandleResult =
  | { webhookId: string; duplicate: true; status: WebhookStatus }
  | {
      webhookId: string;
      duplicate: false;
      status: Exclude<WebhookStatus, "received">;
      attempts: number;
      outcome?: string;
      error?: string;
    };

interface ProcessOutcome {
  status: "processed" | "ignored" | "needs_attention";
  outcome?: string;
  error?: string;
  orgId?: string | null;
  subscriptionId?: string | null;
}

export class DodoWebhookInbox {
  constructor(
    private readonly prisma: PrismaClient,
    /** Applies a subscription event in the delivery's transaction (`DodoBilling.syncSubscription`). */
    private readonly syncSubscription: (event: SubscriptionEvent, tx: Tx) => Promise<SyncResult>,
    /** Prisma interactive-transaction limits for one delivery (waiting for the row lock included). */
    private readonly txOptions: TransactionOptions,
  ) {}

  /**
   * Records a verified delivery and processes it at most once per webhook-id, forever.
   * Concurrent deliveries of one id serialize on the event row (`FOR UPDATE`); the one that
   * finds it unprocessed does the work in the same transaction, the others see it done.
   * A failure is stored (`failed`, error, attempts) and returned, so the route answers 500
   * and Dodo retries; the retry processes it once.
   */
  async handle(delivery: WebhookDelivery): Promise<HandleResult> {
    const { webhookId } = delivery;
    const parsed = parseDelivery(delivery.rawBody);
    const type = parsed.kind === "event" ? parsed.envelope.type : parsed.kind === "invalid_envelope" ? parsed.type : "invalid_json";
    const payload = parsed.kind === "invalid_json" ? { invalid_json: delivery.rawBody } : parsed.payload;
    const eventTimestamp = parsed.kind === "event" ? parsed.envelope.timestamp : null;

    const inserted = await this.prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO webhook_events (id, type, payload, event_timestamp, status)
      VALUES (${webhookId}, ${type}, ${JSON.stringify(payload)}::jsonb, ${eventTimestamp}, 'received')
      ON CONFLICT (id) DO NOTHING
      RETURNING id`;
    if (inserted.length === 0) {
      // Seen before: answer from the stored status without taking the lock when it is final.
      const [seen] = await this.prisma.$queryRaw<{ status: WebhookStatus }[]>`
        SELECT status FROM webhook_events WHERE id = ${webhookId}`;
      if (seen && FINAL_STATUSES.has(seen.status)) return { webhookId, duplicate: true, status: seen.status };
    }

    return this.processUnderLock(webhookId, RETRYABLE_ON_DELIVERY, () => parsed);
  }

  /**
   * Staff replay of a stored event (failed, needs_attention, or stuck in received), from its
   * stored payload — its signature was verified on receipt. Processes it at most once: an
   * event already processed or ignored is answered as a duplicate and left alone.
   */
  async replay(webhookId: string): Promise<HandleResult> {
    const [row] = await this.prisma.$queryRaw<{ id: string }[]>`SELECT id FROM webhook_events WHERE id = ${webhookId}`;
    if (!row) throw new BillingError("NOT_FOUND", "webhook_event_not_found", `No webhook event ${webhookId}`, { webhookId });
    return this.processUnderLock(webhookId, RETRYABLE_ON_REPLAY, (stored) => {
      const payload = stored as { invalid_json?: unknown } | null;
      if (payload && typeof payload.invalid_json === "string" && Object.keys(payload).length === 1) {
        return parseDelivery(payload.invalid_json);
      }
      return parseDelivery(JSON.stringify(stored));
    });
  }

  /**
   * Locks the event row; when its status is in `retryable`, processes it in the same
   * transaction (a savepoint undoes a failed attempt's writes, and the failure is recorded
   * under the same lock). Otherwise it has been dealt with: a duplicate.
   */
  private async processUnderLock(
    webhookId: string,
    retryable: ReadonlySet<string>,
    load: (storedPayload: unknown) => ParsedDelivery,
  ): Promise<HandleResult> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const [row] = await tx.$queryRaw<{ status: WebhookStatus; attempts: number; payload: unknown }[]>`
          SELECT status, attempts, payload FROM webhook_events WHERE id = ${webhookId} FOR UPDATE`;
        if (!row) throw new Error(`webhook event ${webhookId} vanished`);
        if (!retryable.has(row.status)) return { webhookId, duplicate: true as const, status: row.status };
        const attempts = row.attempts + 1;

        await tx.$executeRaw`SAVEPOINT webhook_processing`;
        let result: ProcessOutcome | { status: "failed"; error: string };
        try {
          result = await this.process(load(row.payload), webhookId, tx);
        } catch (error) {
          await tx.$executeRaw`ROLLBACK TO SAVEPOINT webhook_processing`;
          result =
            error instanceof WebhookProblem
              ? { status: "needs_attention", error: error.message, ...(error.details as { orgId?: string; subscriptionId?: string }) }
              : { status: "failed", error: errorLine(error) };
        }
        const details = result as ProcessOutcome;
        await tx.$executeRaw`
          UPDATE webhook_events SET
            status = ${result.status},
            error = ${result.error ?? null},
            outcome = ${details.outcome ?? null},
            org_id = COALESCE(${details.orgId ?? null}::uuid, org_id),
            subscription_id = COALESCE(${details.subscriptionId ?? null}, subscription_id),
            attempts = ${attempts},
            processed_at = CASE WHEN ${result.status === "failed"}::boolean THEN processed_at ELSE now() END
          WHERE id = ${webhookId}`;
        return {
          webhookId,
          duplicate: false as const,
          status: result.status,
          attempts,
          ...(details.outcome ? { outcome: details.outcome } : {}),
          ...(result.error ? { error: result.error } : {}),
        };
      }, this.txOptions);
    } catch (error) {
      // The transaction itself failed (connection lost, timeout): record it if we can.
      const message = errorLine(error);
      await this.prisma.$executeRaw`
        UPDATE webhook_events SET status = 'failed', error = ${message}, attempts = attempts + 1
        WHERE id = ${webhookId} AND status IN ('received', 'failed')`.catch(() => undefined);
      return { webhookId, duplicate: false, status: "failed", attempts: 0, error: message };
    }
  }

  private async process(parsed: ParsedDelivery, webhookId: string, tx: Tx): Promise<ProcessOutcome> {
    if (parsed.kind === "invalid_json" || parsed.kind === "invalid_envelope") {
      return { status: "needs_attention", error: parsed.error };
    }
    const { envelope } = parsed;
    if (!isSubscriptionEventType(envelope.type)) {
      return { status: "ignored", outcome: `event type ${envelope.type} is not handled` };
    }
    const sync = await this.syncSubscription(
      { id: webhookId, type: envelope.type, timestamp: envelope.timestamp, data: envelope.data },
      tx,
    );
    const outcome =
      sync.action === "stale"
        ? "stale: a newer event has already been applied"
        : `${sync.action}${sync.periodReset ? `; period counters reset at ${sync.periodReset.toISOString()}` : ""}`;
    return { status: "processed", outcome, orgId: sync.orgId, subscriptionId: sync.subscriptionId };
  }
}
