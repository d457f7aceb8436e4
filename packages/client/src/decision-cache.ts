import type { ServiceDecision } from "./types";

/**
 * An optional, short-lived memory of `check` answers, for pages that ask the same question
 * many times a second. Only the service's own decisions are kept (never a fallback), only
 * for `check` (a `consume` always goes to the service), and every entry of an org is dropped
 * when this client consumes or increments for it. Bounded: the oldest entry goes first.
 */

export interface DecisionCacheOptions {
  /** How long an answer is reused (ms). Keep it short: another process may change usage. */
  ttlMs: number;
  /** Most answers kept (default 10 000). */
  maxEntries?: number;
}

export class DecisionCache {
  private readonly entries = new Map<string, { decision: ServiceDecision; expiresAt: number }>();
  private readonly maxEntries: number;

  constructor(private readonly options: DecisionCacheOptions) {
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  static key(orgId: string, action: string, amount: unknown): string {
    return `${orgId.toLowerCase()}\u0000${action}\u0000${amount === undefined ? "" : String(amount)}`;
  }

  get(key: string, now = Date.now()): ServiceDecision | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.decision;
  }

  set(key: string, decision: ServiceDecision, now = Date.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { decision, expiresAt: now + this.options.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Forget one org's answers, or everything. */
  invalidate(orgId?: string): void {
    if (orgId === undefined) return this.entries.clear();
    const prefix = `${orgId.toLowerCase()}\u0000`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
