import type { PrismaClient } from "@/server/db/client";
import { inTransaction, type TransactionOptions, type Tx } from "@/server/db/tx";

import type { UsageService } from "../usage-service";
import type { SubscriptionEvent } from "./events";
import { reconcileSubscriptions, type DodoSubscriptionsApi, type ReconcileReport } from "./reconcile";
import { applySubscriptionEvent, type SyncResult } from "./subscription-sync";
import { DodoWebhookInbox, type HandleResult, type WebhookDelivery } from "./webhook-inbox";

/**
 * Dodo Payments in the domain, as one service: the webhook inbox (webhook-inbox.ts), the
 * subscription sync every event goes through (subscription-sync.ts) and reconciliation
 * with the Dodo API (reconcile.ts), over one Prisma client and one usage service.
 */

export interface DodoBillingOptions {
  /** Prisma interactive-transaction limits for one delivery (waiting for the row lock included). */
  transaction?: TransactionOptions;
}

export class DodoBilling {
  private readonly txOptions: TransactionOptions;
  private readonly inbox: DodoWebhookInbox;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly usage: Pick<UsageService, "resetPeriod">,
    options: DodoBillingOptions = {},
  ) {
    this.txOptions = { maxWait: 30_000, timeout: 60_000, ...options.transaction };
    // Through `this.syncSubscription`, so a delivery and a direct sync are one code path.
    this.inbox = new DodoWebhookInbox(prisma, (event, tx) => this.syncSubscription(event, { tx }), this.txOptions);
  }

  /** Records a verified delivery and processes it at most once per webhook-id (`DodoWebhookInbox.handle`). */
  handleWebhook(delivery: WebhookDelivery): Promise<HandleResult> {
    return this.inbox.handle(delivery);
  }

  /** Staff replay of a stored event, processed at most once (`DodoWebhookInbox.replay`). */
  replayWebhook(webhookId: string): Promise<HandleResult> {
    return this.inbox.replay(webhookId);
  }

  /**
   * Applies a subscription event as STATE (`applySubscriptionEvent`), in the caller's
   * transaction or a new one.
   */
  async syncSubscription(event: SubscriptionEvent, options: { tx?: Tx } = {}): Promise<SyncResult> {
    return inTransaction(this.prisma, options.tx, (tx) => applySubscriptionEvent(tx, this.usage, event), this.txOptions);
  }

  /** Fetches each known subscription (or one org's) from the Dodo API and syncs it, one transaction each. */
  reconcileSubscriptions(
    api: DodoSubscriptionsApi,
    options: { orgId?: string; clock?: () => Date; concurrency?: number } = {},
  ): Promise<ReconcileReport> {
    return reconcileSubscriptions(this.prisma, (event) => this.syncSubscription(event), api, options);
  }
}
