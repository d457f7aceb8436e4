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
  /** Told about everything that did not count: see TrackerError. A throwing callback is ignored. */
  onError?: (error: TrackerError) => void;
  /** When Node's event loop runs dry (`beforeExit`), close: flush for up to `exitTimeoutMs` (default true). */
  flushOnExit?: boolean;
  /** How long the exit flush may keep the process alive (default 10 000 ms). */
  exitTimeoutMs?: number;
}

export type TrackerError =
  /** The service refused one event (e.g. an unknown org): it can never apply, so it is dropped. */
  | { kind: "event_rejected"; event: IncrementInput; reason: { code: string; message: string } }
  /** The service refused a whole flush (a revoked key, a missing scope): dropped, with its events for the app to keep. */
  | { kind: "flush_refused"; events: IncrementInput[]; error: BillingClientError }
  /** A flush got no answer; it is kept and sent again with the same keys. */
  | { kind: "flush_failed"; attempt: number; error: BillingClientError }
  /** `close()` ran out of time with these events unsent (they were not counted). */
  | { kind: "unsent_at_close"; events: IncrementInput[] }
  /** `track()` after `close()`: not counted. */
  | { kind: "tracked_after_close"; event: Omit<IncrementInput, "reason"> };

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

type SendBatch = (input: { events: IncrementInput[] }, timeoutMs?: number) => Promise<IncrementManyResult>;

interface Flush {
  events: IncrementInput[];
  /** Sends so far: a flush never sent (0) may still be merged into a later one; a sent one keeps its keys. */
  attempts: number;
}

const MAX_EVENTS_PER_FLUSH = 10_000;
const MAX_RETRY_DELAY_MS = 30_000;

export class UsageTracker {
  private sums = new Map<string, { orgId: string; metric: Metric; amount: bigint }>();
  private bufferedCalls = 0;
  private sequence = 0;
  private readonly queue: Flush[] = [];
  private sending: Promise<void> | null = null;
  /** After a failed send, nothing is sent before this instant but by the retry timer or close(). */
  private backoffUntil = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  private closed = false;
  /** The counts only; `buffered` and `pendingFlushes` are read off the buffers in getStats(). */
  private readonly stats: Omit<TrackerStats, "buffered" | "pendingFlushes"> = { confirmed: {}, rejectedEvents: 0, failedAttempts: 0 };
  private readonly onBeforeExit = () => void this.close(this.options.exitTimeoutMs ?? 10_000);

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
    const units = BigInt(amount);
    if (this.closed) return this.report({ kind: "tracked_after_close", event: { orgId, metric, amount: units } });
    if (units === 0n) return;
    const key = `${orgId.toLowerCase()}\u0000${metric}`;
    const sum = this.sums.get(key);
    if (sum) sum.amount += units;
    else this.sums.set(key, { orgId: orgId.toLowerCase(), metric, amount: units });
    this.bufferedCalls++;
    if (this.bufferedCalls >= (this.options.maxEvents ?? 1000)) void this.flush();
  }

  /** Send what is buffered (unless a failed flush is waiting out its back-off); resolves when this pass is done. */
  flush(): Promise<void> {
    this.cut();
    return this.pump(false);
  }

  /**
   * Stop the timer and send everything, retrying failed flushes until `timeoutMs` (default
   * 10 s; a call in flight at the deadline is given the time left). Resolves true when
   * nothing is left unsent; otherwise what is left is reported (`unsent_at_close`).
   */
  async close(timeoutMs = 10_000): Promise<boolean> {
    if (!this.closed) {
      this.closed = true;
      clearInterval(this.timer);
      nodeProcess()?.off?.("beforeExit", this.onBeforeExit);
    }
    const deadline = Date.now() + timeoutMs;
    this.cut();
    while (this.queue.length > 0 && Date.now() < deadline) {
      await this.pump(true, deadline);
      const wait = Math.min(this.backoffUntil, deadline) - Date.now();
      if (this.queue.length > 0 && wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const unsent = this.queue.splice(0);
    for (const flush of unsent) this.report({ kind: "unsent_at_close", events: flush.events });
    return unsent.length === 0;
  }

  getStats(): TrackerStats {
    return { ...this.stats, buffered: this.bufferedCalls, pendingFlushes: this.queue.length, confirmed: { ...this.stats.confirmed } };
  }

  /**
   * Move the sums into flushes whose idempotency keys are fixed from now on. Flushes never
   * sent (waiting behind a failed one) are merged back first, so an outage leaves one failed
   * flush and one growing one, not a flush per interval.
   */
  private cut(): void {
    while (this.queue.length > 0 && (this.queue[this.queue.length - 1] as Flush).attempts === 0) {
      for (const event of (this.queue.pop() as Flush).events) this.add(event.orgId, event.metric, BigInt(event.amount));
    }
    const sums = [...this.sums.values()].filter((sum) => sum.amount !== 0n);
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

  private add(orgId: string, metric: Metric, amount: bigint): void {
    const key = `${orgId}\u0000${metric}`;
    const sum = this.sums.get(key);
    if (sum) sum.amount += amount;
    else this.sums.set(key, { orgId, metric, amount });
  }

  private pump(ignoreBackoff: boolean, deadline?: number): Promise<void> {
    if (this.sending) return this.sending;
    if (!ignoreBackoff && Date.now() < this.backoffUntil) return Promise.resolve();
    this.sending = this.drain(deadline);
    return this.sending;
  }

  private async drain(deadline?: number): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const flush = this.queue[0] as Flush;
        flush.attempts++;
        let answer: IncrementManyResult;
        try {
          answer = await this.send({ events: flush.events }, deadline === undefined ? undefined : Math.max(1, deadline - Date.now()));
        } catch (error) {
          if (isBillingError(error) && !error.unavailable) {
            // A refusal (a revoked key, a malformed batch): sending it again cannot succeed.
            this.queue.shift();
            this.report({ kind: "flush_refused", events: flush.events, error });
            continue;
          }
          // Unanswered: kept, first in line, with the same keys, so the retry cannot count twice.
          this.stats.failedAttempts++;
          if (isBillingError(error)) this.report({ kind: "flush_failed", attempt: flush.attempts, error });
          this.scheduleRetry(flush.attempts);
          return;
        }
        this.queue.shift();
        this.backoffUntil = 0;
        this.record(flush, answer);
      }
    } finally {
      this.sending = null;
    }
  }

  private record(flush: Flush, answer: IncrementManyResult): void {
    for (const result of answer.results) {
      const event = flush.events[result.index] as IncrementInput;
      if (result.status === "rejected") {
        this.stats.rejectedEvents++;
        this.report({ kind: "event_rejected", event, reason: result.reason });
      } else {
        this.stats.confirmed[event.metric] = (this.stats.confirmed[event.metric] ?? 0n) + BigInt(event.amount);
      }
    }
  }

  /** Exponential back-off with jitter; only this timer (or close) sends again before it is over. */
  private scheduleRetry(attempt: number): void {
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** (attempt - 1));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.backoffUntil = Date.now() + delay;
    if (this.closed) return; // close() waits out the back-off itself
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.cut();
      void this.pump(true);
    }, delay);
    unref(this.retryTimer);
  }

  private report(error: TrackerError): void {
    try {
      this.options.onError?.(error);
    } catch {
      // The app's callback must not break counting (nor surface as an unhandled rejection).
    }
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
