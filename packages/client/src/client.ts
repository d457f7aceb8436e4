import { DEFAULT_RETRY, runCall, type CallOptions, type CallPolicy, type RetryOptions } from "./call";
import { DecisionCache, type DecisionCacheOptions } from "./decision-cache";
import { isBillingError } from "./errors";
import { fallbackDecision, type FallbackOptions } from "./fallback";
import { fetchExchange, nodeExchange } from "./http-exchange";
import { UsageTracker, type TrackerOptions } from "./tracker";
import type {
  CheckInput,
  ConsumeInput,
  ConsumeResult,
  Decision,
  EntitlementSnapshot,
  IncrementInput,
  IncrementManyInput,
  IncrementManyResult,
  IncrementResult,
  ServiceDecision,
  SnapshotInput,
  UsageSummary,
} from "./types";
import type { BillingWebhookEvent } from "./webhooks";

export interface BillingClientOptions {
  /** The billing service's API endpoint, e.g. `https://billing.internal/api/trpc`. */
  url: string;
  /** A product API key (`npm run create-api-key` on the billing service). Sent as `Authorization: Bearer …`. Server side only. */
  apiKey: string;
  /** The most a call may take, retries included (default 2 000 ms). */
  timeoutMs?: number;
  /** Retries of calls that are safe to repeat, when the service could not answer. */
  retry?: RetryOptions;
  /** `check`/`consume` when the service cannot be reached (default: deny, `fallback: true`). */
  fallback?: FallbackOptions;
  /** Reuse `check` answers for a short time (off by default). */
  checkCache?: DecisionCacheOptions;
  /** The buffered `track()`'s flushing. */
  tracker?: TrackerOptions;
  /** Sends the calls with this `fetch` (default: Node's own HTTP in Node, else the global `fetch`). */
  fetch?: typeof fetch;
}

const PATHS = {
  check: "billing.entitlements.check",
  consume: "billing.entitlements.consume",
  snapshot: "billing.entitlements.snapshot",
  increment: "billing.usage.increment",
  incrementMany: "billing.usage.incrementMany",
  usage: "billing.usage.get",
} as const;

/**
 * The product app's billing client: one per process, created with the API key.
 *
 *   const billing = createBillingClient({ url: process.env.BILLING_URL, apiKey: process.env.BILLING_API_KEY });
 *   const decision = await billing.consume({ orgId, action: "member.add", idempotencyKey: `invite:${id}` });
 *   if (!decision.allowed) return deny(decision.reason.message);
 */
export class BillingClient {
  /** Identifies this client's flushes in idempotency keys. */
  readonly clientId: string;
  private readonly policy: CallPolicy;
  private readonly cache: DecisionCache | null;
  private tracker: UsageTracker | null = null;

  constructor(private readonly options: BillingClientOptions) {
    if (!options.url) throw new TypeError("createBillingClient: `url` is required (the billing service's /api/trpc endpoint)");
    if (!options.apiKey) throw new TypeError("createBillingClient: `apiKey` is required");
    this.clientId = globalThis.crypto.randomUUID();
    // Node's own HTTP unless the app brings a fetch (http-exchange.ts: a third of fetch's CPU per call).
    const exchange =
      (!options.fetch && nodeExchange(options.url)) || fetchExchange(options.url, options.fetch ?? globalThis.fetch.bind(globalThis));
    this.policy = {
      transport: { exchange, headers: { authorization: `Bearer ${options.apiKey}` } },
      timeoutMs: options.timeoutMs ?? 2000,
      retry: { ...DEFAULT_RETRY, ...options.retry },
    };
    this.cache = options.checkCache ? new DecisionCache(options.checkCache) : null;
  }

  /** May `orgId` do `action` (now, for `amount`)? Records nothing. */
  async check(input: CheckInput, options?: CallOptions): Promise<Decision> {
    const key = this.cache ? DecisionCache.key(input.orgId, input.action, input.amount) : "";
    const cached = this.cache?.get(key);
    if (cached) return cached;
    // An invalidation while this check is on its way (a consume) makes its answer stale: not kept.
    const generation = this.cache?.generation(input.orgId);
    try {
      const decision = (await runCall(this.policy, "query", PATHS.check, input, true, options)) as ServiceDecision;
      if (generation !== undefined) this.cache?.set(key, decision, input.orgId, generation);
      return decision;
    } catch (error) {
      if (isBillingError(error) && error.unavailable) return fallbackDecision(this.options.fallback, input.action, error);
      throw error;
    }
  }

  /**
   * Check and record in one atomic step: allowed ⇒ the usage is in the ledger. Retried with
   * the same `idempotencyKey` when unanswered, so it is applied at most once.
   */
  async consume(input: ConsumeInput, options?: CallOptions): Promise<ConsumeResult> {
    this.cache?.invalidate(input.orgId);
    try {
      return (await runCall(this.policy, "mutation", PATHS.consume, input, true, options)) as ConsumeResult;
    } catch (error) {
      if (isBillingError(error) && error.unavailable)
        return { ...fallbackDecision(this.options.fallback, input.action, error), replayed: false };
      throw error;
    } finally {
      this.cache?.invalidate(input.orgId);
    }
  }

  /** Record usage without a policy decision (retried only with an `idempotencyKey`). */
  async increment(input: IncrementInput, options?: CallOptions): Promise<IncrementResult> {
    this.cache?.invalidate(input.orgId);
    return (await runCall(this.policy, "mutation", PATHS.increment, input, input.idempotencyKey !== undefined, options)) as IncrementResult;
  }

  /** Up to 10 000 increments in one call; each event is answered on its own (applied, duplicate, rejected). */
  async incrementMany(input: IncrementManyInput, options?: CallOptions): Promise<IncrementManyResult> {
    for (const event of input.events) this.cache?.invalidate(event.orgId);
    const repeatable = input.events.every((event) => event.idempotencyKey !== undefined);
    return (await runCall(this.policy, "mutation", PATHS.incrementMany, input, repeatable, options)) as IncrementManyResult;
  }

  /** Every metric's count, limit and window for an org. */
  async usage(orgId: string, options?: CallOptions): Promise<UsageSummary> {
    return (await runCall(this.policy, "query", PATHS.usage, { orgId }, true, options)) as UsageSummary;
  }

  /** Plan, status, grace, every metric and feature flag, as of one read: one call for a product page. */
  async snapshot(input: SnapshotInput, options?: CallOptions): Promise<EntitlementSnapshot> {
    return (await runCall(this.policy, "query", PATHS.snapshot, input, true, options)) as EntitlementSnapshot;
  }

  /**
   * Count without waiting: summed in memory per (org, metric) and sent in the background as
   * one `incrementMany` per flush, exactly once (see UsageTracker). Call `close()` on shutdown.
   */
  track(orgId: string, metric: IncrementInput["metric"], amount: bigint | number = 1): void {
    this.tracker ??= new UsageTracker(
      (batch, timeoutMs) =>
        runCall(this.policy, "mutation", PATHS.incrementMany, batch, true, { timeoutMs }) as Promise<IncrementManyResult>,
      this.clientId,
      this.options.tracker,
    );
    this.tracker.track(orgId, metric, amount);
  }

  /** Send tracked usage now. */
  async flush(): Promise<void> {
    await this.tracker?.flush();
  }

  /** Tracked usage not yet confirmed, and what was. */
  trackerStats() {
    return this.tracker?.getStats() ?? null;
  }

  /** Forget cached `check` answers (one org's, or all). */
  invalidate(orgId?: string): void {
    this.cache?.invalidate(orgId);
  }

  /**
   * Apply a verified outgoing event (webhooks.ts): `entitlements.changed` and
   * `subscription.changed` drop the org's cached `check` answers, so the next check asks.
   */
  handleEvent(event: BillingWebhookEvent): void {
    if (event.type === "entitlements.changed" || event.type === "subscription.changed") this.invalidate(event.orgId);
  }

  /** Flush tracked usage (retrying until `timeoutMs`) and stop the timers. True when nothing is left unsent. */
  async close(timeoutMs?: number): Promise<boolean> {
    return (await this.tracker?.close(timeoutMs)) ?? true;
  }
}

export function createBillingClient(options: BillingClientOptions): BillingClient {
  return new BillingClient(options);
}
