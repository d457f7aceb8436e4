import type { Metric } from "./catalogue";
import { isBillingError, type BillingClientError } from "./errors";
import type { IncrementInput, IncrementManyResult } from "./types";

/**
 * Buffered counting for high-volume metrics (`api_calls`): `track()` only adds to a sum in
 * memory; a flush sends every (org, metric) sum as one `incrementMany` event.
 *
 * Exactly once: a flush's events get idempotency keys fixed when the flush is cut
 * (`track:<clientId>:<flush>:<n>`). A flush that fails (timeout, network, 5xx) is kept and
 * sent again, first, with the same keys, until it is answered; the server applies a key
 * once, ever, so a flush that did land before its answer was lost counts once. Events
 * tracked meanwhile wait in the next flush. What is lost: sums still in memory when the
 * process dies without `close()` (SIGKILL, a crash) — at most one interval's worth.
 */

export interface TrackerOptions {
  /** Flush this often (default 1 000 ms). */
  flushIntervalMs?: number;
  /** Or as soon as this many `track()` calls are waiting (default 1 000). */
  maxEvents?: number;
  /** The ledger reason of the tracked rows (default `tracked`). */
  reason?: string;
  /** Called for a refused event (e.g. an unknown org: it can never apply, so it is dropped) or a refused flush. */
  onError?: (error: TrackerError) => void;
  /** Flush when Node's event loop runs dry (`beforeExit`); default true. */
  flushOnExit?: boolean;
}

export type TrackerError =
  | { kind: "event_rejected"; event: IncrementInput; reason: { code: string; message: string } }
  | { kind: "flush_refused"; events: IncrementInput[]; error: BillingClientError }
  | { kind: "flush_failed"; attempt: number; error: BillingClientError };

export interface TrackerStats {
  /** `track()` calls not yet in a flush. */
  buffered: number;
  /** Flushes cut but not yet answered (a failed one waits here for its retry). */
  pendingFlushes: number;
  /** Units the service confirmed, per metric (applied or found already applied). */
  confirmed: Partial<Record<Metric, bigint>>;
  rejectedEvents: number;
  failedAttempts: number;
}

type SendBatch = (input: { events: IncrementInput[] }) => Promise<IncrementManyResult>;

interface Flush {
  events: IncrementInput[];
  attempts: number;
}

const MAX_EVENTS_PER_FLUSH = 10_000;
const MAX_RETRY_DELAY_MS = 30_000;

export class UsageTracker {
  private sums = new Map<string, { orgId: string; metric: Metric; amount: bigint }>();
  private bufferedCalls = 0;
  private sequence = 0;
  private readonly queue: Flush[] = [];
  private running: Promise<void> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  private closed = false;
  private readonly stats: TrackerStats = { buffered: 0, pendingFlushes: 0, confirmed: {}, rejectedEvents: 0, failedAttempts: 0 };
  private readonly onBeforeExit = () => void this.flush();

  constructor(
    private readonly send: SendBatch,
    private readonly clientId: string,
    private readonly options: TrackerOptions = {},
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    unref(this.timer);
    if (options.flushOnExit ?? true) nodeProcess()?.on?.("beforeExit", this.onBeforeExit);
  }

  /** Count `amount` (default 1) of `metric` for `orgId`. Synchronous; never throws for the service. */
  track(orgId: string, metric: Metric, amount: bigint | number = 1): void {
    if (this.closed) throw new TypeError("UsageTracker.track after close()");
    const units = BigInt(amount);
    if (units === 0n) return;
    const key = `${orgId.toLowerCase()}\u0000${metric}`;
    const sum = this.sums.get(key);
    if (sum) sum.amount += units;
    else this.sums.set(key, { orgId: orgId.toLowerCase(), metric, amount: units });
    this.bufferedCalls++;
    if (this.bufferedCalls >= (this.options.maxEvents ?? 1000)) void this.flush();
  }

  /** Send what is buffered and any flush waiting for a retry; resolves when this pass is done. */
  flush(): Promise<void> {
    this.cut();
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * Stop the timer and send everything, retrying failed flushes until `timeoutMs` (default
   * 10 s). Resolves true when nothing is left unsent.
   */
  async close(timeoutMs = 10_000): Promise<boolean> {
    this.closed = true;
    clearInterval(this.timer);
    nodeProcess()?.off?.("beforeExit", this.onBeforeExit);
    const deadline = Date.now() + timeoutMs;
    this.cut();
    while (this.queue.length > 0 && Date.now() < deadline) {
      await this.flush();
      if (this.queue.length > 0) await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    return this.queue.length === 0;
  }

  getStats(): TrackerStats {
    return { ...this.stats, buffered: this.bufferedCalls, pendingFlushes: this.queue.length, confirmed: { ...this.stats.confirmed } };
  }

  /** Move the sums into flushes whose idempotency keys are fixed from now on. */
  private cut(): void {
    if (this.sums.size === 0) return;
    const sums = [...this.sums.values()];
    this.sums = new Map();
    this.bufferedCalls = 0;
    for (let start = 0; start < sums.length; start += MAX_EVENTS_PER_FLUSH) {
      const flushNo = ++this.sequence;
      const events = sums.slice(start, start + MAX_EVENTS_PER_FLUSH).map((sum, n): IncrementInput => ({
        orgId: sum.orgId,
        metric: sum.metric,
        amount: sum.amount,
        reason: this.options.reason ?? "tracked",
        idempotencyKey: `track:${this.clientId}:${flushNo}:${n}`,
      }));
      this.queue.push({ events, attempts: 0 });
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const flush = this.queue[0] as Flush;
      flush.attempts++;
      let answer: IncrementManyResult;
      try {
        answer = await this.send({ events: flush.events });
      } catch (error) {
        if (isBillingError(error) && !error.unavailable) {
          // A refusal (a revoked key, a malformed event): sending it again cannot succeed.
          this.queue.shift();
          this.options.onError?.({ kind: "flush_refused", events: flush.events, error });
          continue;
        }
        // Unanswered: kept, first in line, with the same keys, so the retry cannot count twice.
        this.stats.failedAttempts++;
        if (isBillingError(error)) this.options.onError?.({ kind: "flush_failed", attempt: flush.attempts, error });
        this.scheduleRetry(flush.attempts);
        return;
      }
      this.queue.shift();
      this.record(flush, answer);
    }
  }

  private record(flush: Flush, answer: IncrementManyResult): void {
    for (const result of answer.results) {
      const event = flush.events[result.index] as IncrementInput;
      if (result.status === "rejected") {
        this.stats.rejectedEvents++;
        this.options.onError?.({ kind: "event_rejected", event, reason: result.reason });
      } else {
        this.stats.confirmed[event.metric] = (this.stats.confirmed[event.metric] ?? 0n) + BigInt(event.amount);
      }
    }
  }

  private scheduleRetry(attempt: number): void {
    if (this.retryTimer || this.closed) return;
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** (attempt - 1));
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        void this.flush();
      },
      ceiling / 2 + Math.random() * (ceiling / 2),
    );
    unref(this.retryTimer);
  }
}

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

/** Node's process, when there is one (not in a browser); typed here so the package needs no @types/node. */
function nodeProcess():
  { on?: (event: string, listener: () => void) => void; off?: (event: string, listener: () => void) => void } | undefined {
  return (globalThis as { process?: ReturnType<typeof nodeProcess> }).process;
}
