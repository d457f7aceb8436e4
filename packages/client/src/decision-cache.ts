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
  /** Bumped by every invalidation (per org, and `epoch` for all): an answer asked for before one is not stored. */
  private readonly generations = new Map<string, number>();
  private epoch = 0;
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

  /** The org's invalidation count, to hand back to `set` with the answer. */
  generation(orgId: string): string {
    return `${this.epoch}:${this.generations.get(orgId.toLowerCase()) ?? 0}`;
  }

  /** Keeps an answer unless the org was invalidated since `generation` was read. */
  set(key: string, decision: ServiceDecision, orgId: string, generation: string, now = Date.now()): void {
    if (this.generation(orgId) !== generation) return;
    this.entries.delete(key);
    this.entries.set(key, { decision, expiresAt: now + this.options.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Forget one org's answers, or everything. */
  invalidate(orgId?: string): void {
    if (orgId === undefined) {
      this.epoch++;
      this.generations.clear();
      return this.entries.clear();
    }
    const org = orgId.toLowerCase();
    this.generations.set(org, (this.generations.get(org) ?? 0) + 1);
    // Bounded: forgetting every org's count at once (a new epoch) only skips storing the answers in flight.
    if (this.generations.size > this.maxEntries) {
      this.epoch++;
      this.generations.clear();
    }
    const prefix = `${org}\u0000`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
