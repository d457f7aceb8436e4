import type { PrismaClient } from "@/server/db/client";
import { pgError } from "@/server/db/pg-errors";
import type { Db, Tx } from "@/server/db/tx";
import { planForProduct } from "../catalogue";
import { BillingError } from "../errors";
import type { UsageService } from "../usage-service";
import { catchUpMeteredUsage } from "../usage-reporting/outbox-sql";
import {
  describeIssues,
  isSubscriptionEventType,
  parseDelivery,
  type ParsedDelivery,
  subscriptionDataSchema,
  type SubscriptionData,
  type SubscriptionEvent,
} from "./events";
import type { WebhookStatus } from "./webhook-status";

/**
 * Dodo Payments in the domain: every verified webhook delivery is recorded in
 * `webhook_events` (keyed by webhook-id, processed at most once), and subscription events
 * are applied as STATE to `subscriptions` — an older event never overwrites newer state.
 * Knows nothing of Next or HTTP: the route verifies the signature and hands over the body.
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

export interface SyncResult {
  action: "created" | "updated" | "stale";
  subscriptionId: string;
  orgId: string | null;
  /** The new period start when `api_calls` was reset into it. */
  periodReset: Date | null;
}

/** The part of the `dodopayments` client reconciliation uses (the SDK's client fits). */
export interface DodoSubscriptionsApi {
  subscriptions: { retrieve(subscriptionId: string): PromiseLike<unknown> };
}

export interface ReconcileReport {
  checked: number;
  synced: number;
  /** Already up to date with a newer event than the fetch. */
  stale: number;
  problems: { subscriptionId: string; error: string }[];
}

/** Not a transient failure: the event cannot succeed as it is (unknown org/product, bad data). */
export class WebhookProblem extends BillingError {
  constructor(reason: string, message: string, details?: Record<string, unknown>) {
    super("PRECONDITION_FAILED", reason, message, details);
    this.name = "WebhookProblem";
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Subscriptions fetched from Dodo at once by a reconciliation. */
const RECONCILE_CONCURRENCY = 4;

/** Period counters reset when a subscription enters a new billing period. */
const PERIOD_COUNTERS = ["api_calls"] as const;

interface ExistingRow {
  org_id: string;
  status: string;
  current_period_start: Date | null;
  updated_at: Date;
  last_event_at: Date | null;
}

interface ProcessOutcome {
  status: "processed" | "ignored" | "needs_attention";
  outcome?: string;
  error?: string;
  orgId?: string | null;
  subscriptionId?: string | null;
}

function metadataOrgId(metadata: Record<string, unknown> | null | undefined): string | undefined {
  const value = metadata?.org_id;
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

/** One line for the stored error: the SQLSTATE and message for database errors. */
function errorText(error: unknown): string {
  const pg = pgError(error);
  if (pg) return `database error ${pg.code}: ${pg.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return message.trim().split("\n").filter(Boolean).slice(-1)[0] ?? "unknown error";
}

export interface BillingServiceOptions {
  /** Prisma interactive-transaction limits for one delivery (waiting for the row lock included). */
  transaction?: { maxWait?: number; timeout?: number };
}

export class BillingService {
  private readonly txOptions: { maxWait: number; timeout: number };

  constructor(
    private readonly prisma: PrismaClient,
    private readonly usage: UsageService,
    options: BillingServiceOptions = {},
  ) {
    this.txOptions = { maxWait: 30_000, timeout: 60_000, ...options.transaction };
  }

  /**
   * Records a verified delivery and processes it at most once per webhook-id, forever.
   * Concurrent deliveries of one id serialize on the event row (`FOR UPDATE`); the one that
   * finds it unprocessed does the work in the same transaction, the others see it done.
   * A failure is stored (`failed`, error, attempts) and returned, so the route answers 500
   * and Dodo retries; the retry processes it once.
   */
  async handleWebhook(delivery: WebhookDelivery): Promise<HandleResult> {
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
  async replayWebhook(webhookId: string): Promise<HandleResult> {
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
              : { status: "failed", error: errorText(error) };
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
      const message = errorText(error);
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
    const sync = await this.syncSubscription({ id: webhookId, type: envelope.type, timestamp: envelope.timestamp, data: envelope.data }, { tx });
    const outcome =
      sync.action === "stale"
        ? "stale: a newer event has already been applied"
        : `${sync.action}${sync.periodReset ? `; period counters reset at ${sync.periodReset.toISOString()}` : ""}`;
    return { status: "processed", outcome, orgId: sync.orgId, subscriptionId: sync.subscriptionId };
  }

  /**
   * Applies a subscription event as STATE: upserts `subscriptions` unless a newer event has
   * already been applied (compared under a per-subscription lock, in the caller's
   * transaction or a new one). Entering a new period (renewal, or an active event whose
   * period start moved forward) resets period counters in the same transaction, once per
   * period. Throws `WebhookProblem` for an unknown org or product (nothing written).
   */
  async syncSubscription(event: SubscriptionEvent, options: { tx?: Tx } = {}): Promise<SyncResult> {
    const work = (tx: Tx) => this.applySubscription(event, tx);
    return options.tx ? work(options.tx) : this.prisma.$transaction(work, this.txOptions);
  }

  private async applySubscription(event: SubscriptionEvent, tx: Tx): Promise<SyncResult> {
    const parsed = subscriptionDataSchema.safeParse(event.data);
    if (!parsed.success) throw new WebhookProblem("invalid_subscription", `invalid subscription data: ${describeIssues(parsed.error)}`);
    const data = parsed.data;
    const subscriptionId = data.subscription_id;
    // One writer per subscription at a time, whether or not its row exists yet.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`dodo_subscription:${subscriptionId}`}, 0))`;
    const [existing] = await tx.$queryRaw<ExistingRow[]>`
      SELECT org_id::text, status, current_period_start, updated_at, last_event_at
      FROM subscriptions WHERE id = ${subscriptionId} FOR UPDATE`;

    if (existing?.last_event_at && event.timestamp < existing.last_event_at) {
      return { action: "stale", subscriptionId, orgId: existing.org_id, periodReset: null };
    }

    if (!planForProduct(data.product_id)) {
      throw new WebhookProblem(
        "unknown_product",
        `unknown product ${data.product_id}: no plan in the catalogue has this Dodo product id`,
        { subscriptionId, orgId: existing?.org_id },
      );
    }
    const org = await this.resolveOrg(tx, data, existing);

    const status = data.status;
    const statusChangedAt = existing && existing.status === status ? existing.updated_at : event.timestamp;
    const periodStart = data.previous_billing_date ?? null;
    const periodEnd = data.next_billing_date ?? null;
    await tx.$executeRaw`
      INSERT INTO subscriptions (id, org_id, product_id, status, current_period_start, current_period_end,
                                 customer_id, quantity, cancel_at_period_end, cancelled_at, expires_at,
                                 last_event_at, last_event_id, updated_at)
      VALUES (${subscriptionId}, ${org.orgId}::uuid, ${data.product_id}, ${status}, ${periodStart}, ${periodEnd},
              ${data.customer.customer_id}, ${data.quantity ?? 1}, ${data.cancel_at_next_billing_date ?? false},
              ${data.cancelled_at ?? null}, ${data.expires_at ?? null}, ${event.timestamp}, ${event.id}, ${statusChangedAt})
      ON CONFLICT (id) DO UPDATE SET
        org_id = EXCLUDED.org_id, product_id = EXCLUDED.product_id, status = EXCLUDED.status,
        current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,
        customer_id = EXCLUDED.customer_id, quantity = EXCLUDED.quantity,
        cancel_at_period_end = EXCLUDED.cancel_at_period_end, cancelled_at = EXCLUDED.cancelled_at,
        expires_at = EXCLUDED.expires_at, last_event_at = EXCLUDED.last_event_at,
        last_event_id = EXCLUDED.last_event_id, updated_at = EXCLUDED.updated_at
      WHERE subscriptions.last_event_at IS NULL OR subscriptions.last_event_at <= EXCLUDED.last_event_at`;

    // Learn (or correct, when metadata says so) the customer → org mapping.
    if (org.source === "metadata") {
      await tx.$executeRaw`
        INSERT INTO dodo_customers (customer_id, org_id) VALUES (${data.customer.customer_id}, ${org.orgId}::uuid)
        ON CONFLICT (customer_id) DO UPDATE SET org_id = EXCLUDED.org_id, updated_at = now()
        WHERE dodo_customers.org_id <> EXCLUDED.org_id`;
    } else if (org.source === "subscription") {
      await tx.$executeRaw`
        INSERT INTO dodo_customers (customer_id, org_id) VALUES (${data.customer.customer_id}, ${org.orgId}::uuid)
        ON CONFLICT (customer_id) DO NOTHING`;
    }

    let periodReset: Date | null = null;
    const renewing = event.type === "subscription.renewed" || status === "active";
    const movedForward =
      periodStart !== null && (!existing?.current_period_start || periodStart > existing.current_period_start);
    if (renewing && movedForward && periodStart) {
      for (const metric of PERIOD_COUNTERS) {
        await this.usage.resetPeriod(org.orgId, metric, periodStart, { tx, actor: `dodo:${event.id}` });
      }
      periodReset = periodStart;
    }
    // Usage recorded while this subscription was not yet known here is metered now (same rule).
    await catchUpMeteredUsage(tx, org.orgId);
    return { action: existing ? "updated" : "created", subscriptionId, orgId: org.orgId, periodReset };
  }

  /**
   * Fetches each known subscription (or one org's) from the Dodo API and syncs it, so a lost
   * webhook cannot leave an org on the wrong plan. The fetched state is stamped with the time
   * the request was sent: webhooks older than that are then stale, newer ones still apply.
   */
  async reconcileSubscriptions(
    api: DodoSubscriptionsApi,
    options: { orgId?: string; clock?: () => Date; concurrency?: number } = {},
  ): Promise<ReconcileReport> {
    const clock = options.clock ?? (() => new Date());
    const rows = await this.prisma.subscription.findMany({
      where: options.orgId ? { orgId: options.orgId } : {},
      select: { id: true },
      orderBy: { id: "asc" },
    });
    const report: ReconcileReport = { checked: 0, synced: 0, stale: 0, problems: [] };
    const reconcileOne = async (id: string) => {
      report.checked += 1;
      const fetchedAt = clock();
      try {
        const data: unknown = await api.subscriptions.retrieve(id);
        const result = await this.syncSubscription({
          id: `reconcile:${id}:${fetchedAt.toISOString()}`,
          type: "subscription.reconciled",
          timestamp: fetchedAt,
          data,
        });
        if (result.action === "stale") report.stale += 1;
        else report.synced += 1;
      } catch (error) {
        report.problems.push({ subscriptionId: id, error: errorText(error) });
      }
    };
    // A few requests in flight: each subscription is its own fetch and its own transaction,
    // so thousands of them finish in minutes, not an hour, without flooding Dodo.
    let next = 0;
    const worker = async () => {
      while (next < rows.length) await reconcileOne((rows[next++] as { id: string }).id);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? RECONCILE_CONCURRENCY, rows.length)) }, worker));
    report.problems.sort((a, b) => a.subscriptionId.localeCompare(b.subscriptionId));
    return report;
  }

  /** The org: subscription metadata `org_id`, customer metadata `org_id`, the customer mapping, the existing row. */
  private async resolveOrg(
    db: Db,
    data: SubscriptionData,
    existing: ExistingRow | undefined,
  ): Promise<{ orgId: string; source: "metadata" | "mapping" | "subscription" }> {
    const tried: string[] = [];
    for (const [label, candidate] of [
      ["subscription metadata org_id", metadataOrgId(data.metadata)],
      ["customer metadata org_id", metadataOrgId(data.customer.metadata)],
    ] as const) {
      if (!candidate) continue;
      if (UUID.test(candidate)) {
        const [found] = await db.$queryRaw<{ id: string }[]>`SELECT id::text FROM organizations WHERE id = ${candidate}::uuid`;
        if (found) return { orgId: found.id, source: "metadata" };
      }
      tried.push(`${label} ${JSON.stringify(candidate)} is not an organization`);
    }
    const [mapped] = await db.$queryRaw<{ org_id: string }[]>`
      SELECT c.org_id::text FROM dodo_customers c JOIN organizations o ON o.id = c.org_id
      WHERE c.customer_id = ${data.customer.customer_id}`;
    if (mapped) return { orgId: mapped.org_id, source: "mapping" };
    if (existing) return { orgId: existing.org_id, source: "subscription" };
    tried.push(`no mapping for customer ${data.customer.customer_id}`);
    throw new WebhookProblem("unknown_org", `unknown org for subscription ${data.subscription_id}: ${tried.join("; ")}`, {
      subscriptionId: data.subscription_id,
    });
  }
}
