import { Prisma, type PrismaClient } from "@/server/db/client";
import { PG, pgError } from "@/server/db/pg-errors";
import { viaPrisma, type RawQuery } from "@/server/db/raw-query";
import { retryTransient } from "@/server/db/retry";
import { inTransaction, type Db, type Tx } from "@/server/db/tx";

import { createEmptyCacheRows } from "./cache-rows";
import { METRIC_KIND, METRICS, type Metric } from "./catalogue";
import { BillingError, parseInput } from "./errors";
import { incrementMany } from "./increment-many";
import { keyReuseConflict, toLedgerEntry, type LedgerEntry, type LedgerRow } from "./ledger-entry";
import { oneLedgerRowCtes } from "./ledger-insert-sql";
import { readSubscription } from "./policy-context";
import { readByKey } from "./read-by-key";
import { RememberedSubscriptions } from "./remembered-subscriptions";
import { rowWriteSql, type RowWriteVariant } from "./row-write-sql";
import { incrementInputSchema, type IncrementInput } from "./schemas";
import { refreshAlertBands, type StaleBand } from "./usage-alerts/alert-band";
import type { BatchEventResult } from "./usage-batch";
import { countRefusal, orgNotFound } from "./usage-errors";
import { REPORT_METERED_USAGE } from "./usage-reporting/outbox-sql";
import { currentWindow, windowFollowsSubscription } from "./usage-window";
import { startWindows, windowResetKey } from "./window-reset";
import type { UsageWindow } from "./windows";

// Kept importable from here, where the API types have always found them.
export { type BatchEventResult, MAX_BATCH } from "./usage-batch";

export const DEFAULT_ACTOR = "system";

export interface IncrementOptions {
  idempotencyKey?: string;
  actor?: string;
  metadata?: Record<string, unknown>;
  /** Join the caller's transaction (e.g. the host app inserting the member it counts). */
  tx?: Tx;
}

export interface IncrementResult {
  entry: LedgerEntry;
  /** The cache count after this entry (after the original entry, for a replay: the current count). */
  count: bigint;
  replayed: boolean;
}

export interface UsageRow {
  metric: Metric;
  count: bigint;
  lastUpdated: Date | null;
}

export interface Drift {
  orgId: string;
  metric: string;
  cache: bigint;
  ledger: bigint;
  drift: bigint;
}

/** Turns the database's refusals into the domain's typed errors. */
function mapWriteError(error: unknown, orgId: string, metric: string): unknown {
  const pg = pgError(error);
  if (pg?.code === PG.foreignKeyViolation) return orgNotFound(orgId);
  if (pg?.code === PG.checkViolation && pg.constraint === "limit_overrides_kind_value") return error;
  return countRefusal(error, metric, orgId) ?? error;
}

/**
 * The usage ledger and its cache. Invariant: for every (org, metric), the cache count equals
 * SUM(ledger.delta). Every write here changes both in one statement or one transaction.
 */
export class UsageService {
  /** incrementMany's billing-period windows' subscriptions, between batches (re-checked by its statement). */
  private readonly batchSubscriptions = new RememberedSubscriptions();

  /**
   * @param hotPath where `increment` runs its statement without a caller `tx` (see EntitlementService).
   * @param clock the time a write records (its ledger timestamp): the wall clock, or one a
   *   test or the demo seed sets, so history can be written as it would have happened.
   */
  constructor(
    private readonly prisma: PrismaClient,
    private readonly hotPath: RawQuery = viaPrisma(prisma),
    readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * One ledger row and the cache upsert in ONE statement (one round trip, atomic on its
   * own, or part of `options.tx`); a period counter whose window is over gets its reset row
   * in the same statement (window-reset.ts). With an idempotency key, a repeat changes
   * nothing and returns the original entry (`replayed: true`), forever.
   */
  async increment(orgId: string, metric: Metric, amount: bigint, reason: string, options: IncrementOptions = {}): Promise<IncrementResult> {
    const input = parseInput(incrementInputSchema, {
      orgId,
      metric,
      amount,
      reason,
      idempotencyKey: options.idempotencyKey,
      actor: options.actor,
      metadata: options.metadata,
    });
    const db: Db = options.tx ?? this.prisma;
    const run = options.tx ? viaPrisma(options.tx) : this.hotPath;
    const now = this.clock();
    const createCacheRow = () =>
      createEmptyCacheRows(viaPrisma(db), [{ orgId: input.orgId, metric: input.metric }], now).catch((e) =>
        Promise.reject(mapWriteError(e, input.orgId, input.metric)),
      );
    // Inside a caller's transaction an error would abort it, so the cache row is created first.
    if (options.tx) await createCacheRow();
    // A period counter counts in its window, which the statement starts under the row lock
    // (window-reset.ts); a billing-period window needs the org's subscription: one read more,
    // for those metrics only. A gauge's statement has none of this.
    const window = await this.windowOf(run, input.orgId, input.metric, now);
    // Lean first: most writes stay in the row's alert band (row-write-sql.ts).
    let variant: RowWriteVariant = "lean";
    for (let attempt = 0; attempt < 3; attempt++) {
      const parts = rowWriteSql(input.orgId, input.metric, window, now, input.amount, variant);
      const ledgerRow = oneLedgerRowCtes("ins", {
        source: parts.source,
        orgId: input.orgId,
        metric: input.metric,
        delta: input.amount,
        reason: input.reason,
        idempotencyKey: input.idempotencyKey ?? null,
        actor: input.actor ?? DEFAULT_ACTOR,
        metadata: JSON.stringify(input.metadata ?? {}),
        timestamp: now,
      });
      let rows: (Partial<LedgerRow> & {
        new_count: bigint | string | null;
        locked_rows: number;
        stale_bands: StaleBand[] | null;
        band_refused: boolean;
      })[];
      try {
        const statement = () =>
          run<(typeof rows)[number]>(Prisma.sql`
          WITH held AS (
            -- The cache row is locked BEFORE the insert claims the idempotency key, the order
            -- consume and incrementMany take them in; and nothing is inserted without it. Either
            -- way round, a writer holding the key waits for one holding (or creating) the row
            -- while that one waits for the key: a deadlock.
            SELECT ${parts.columns} FROM usage_cache WHERE org_id = ${input.orgId}::uuid AND metric = ${input.metric} FOR UPDATE
          )${parts.locked}${parts.ctes}, ${ledgerRow}${REPORT_METERED_USAGE}, ${parts.update}${parts.decide}
          SELECT ins.*, (SELECT count FROM upd) AS new_count, (SELECT count(*) FROM held)::int AS locked_rows, ${parts.answers}
          FROM (SELECT 1) AS one LEFT JOIN ins ON TRUE`);
        // Alone, the statement is its own transaction and may run again; in the caller's, not.
        rows = await (options.tx ? statement() : retryTransient(statement));
        const stale = rows[0]?.stale_bands;
        await refreshAlertBands(run, stale, now, { afterCommit: !options.tx });
      } catch (error) {
        throw mapWriteError(error, input.orgId, input.metric);
      }
      const row = rows[0];
      if (row?.band_refused) {
        // The write may cross an alert threshold: the statement that decides it writes it.
        variant = "full";
        continue;
      }
      if (row?.id) return { entry: toLedgerEntry(row as LedgerRow), count: BigInt(row.new_count ?? 0n), replayed: false };
      if (!row?.locked_rows) {
        // No cache row yet. A key already used (here, for another metric) is answered
        // without creating one; otherwise create it (waiting for a concurrent creator,
        // holding nothing) and write.
        if (input.idempotencyKey !== undefined && (await readByKey(run, input.orgId, input.idempotencyKey))) return this.replay(db, input);
        await createCacheRow();
        continue;
      }
      // No row inserted: the idempotency key was used before (possibly by a concurrent call
      // that has committed by now: ON CONFLICT waited for it).
      return this.replay(db, input);
    }
    throw new BillingError("CONFLICT", "increment_retry_exhausted", "Could not create the usage row; retry");
  }

  /** The window a write of `metric` counts in at `now`; null for a gauge. */
  private async windowOf(run: RawQuery, orgId: string, metric: Metric, now: Date): Promise<UsageWindow | null> {
    if (!windowFollowsSubscription(metric)) return currentWindow(metric, null, now);
    const subscription = await readSubscription(run, orgId);
    if (subscription === undefined) throw orgNotFound(orgId);
    return currentWindow(metric, subscription, now);
  }

  private async replay(db: Db, input: IncrementInput): Promise<IncrementResult> {
    const original = await this.findByKey(db, input.orgId, input.idempotencyKey as string);
    if (!original) {
      throw new BillingError(
        "CONFLICT",
        "idempotency_race",
        "The idempotency key is being used by a transaction that has not committed; retry",
      );
    }
    const conflict = keyReuseConflict(original, { metric: input.metric, delta: input.amount }, input.idempotencyKey as string);
    if (conflict) throw conflict;
    const [usage] = await db.$queryRaw<{ count: bigint }[]>`
      SELECT count FROM usage_cache WHERE org_id = ${input.orgId}::uuid AND metric = ${input.metric}`;
    return { entry: original, count: BigInt(usage?.count ?? 0n), replayed: true };
  }

  async findByKey(db: Db, orgId: string, idempotencyKey: string): Promise<LedgerEntry | undefined> {
    return readByKey(viaPrisma(db), orgId, idempotencyKey);
  }

  /**
   * Up to 10 000 events, each answered on its own (applied, duplicate, rejected); `atomic`:
   * any rejection rejects the batch (a BillingError, nothing written). See increment-many.ts.
   */
  async incrementMany(
    events: readonly unknown[],
    options: { atomic?: boolean; actor?: string; tx?: Tx } = {},
  ): Promise<BatchEventResult[]> {
    const writer = { prisma: this.prisma, hotPath: this.hotPath, clock: this.clock, subscriptions: this.batchSubscriptions };
    return incrementMany(writer, events, { ...options, actor: options.actor ?? DEFAULT_ACTOR });
  }

  /** The fast read: primary-key lookups of the cache, never a COUNT. */
  async getUsage(orgId: string, db: Db = this.prisma): Promise<UsageRow[]> {
    const rows = await db.$queryRaw<{ exists: boolean; metric: string | null; count: bigint | null; last_updated: Date | null }[]>`
      SELECT TRUE AS exists, c.metric, c.count, c.last_updated
      FROM organizations o LEFT JOIN usage_cache c ON c.org_id = o.id
      WHERE o.id = ${orgId}::uuid`;
    if (rows.length === 0) throw orgNotFound(orgId);
    const byMetric = new Map(rows.filter((r) => r.metric).map((r) => [r.metric as string, r]));
    return METRICS.map((metric) => {
      const row = byMetric.get(metric);
      return { metric, count: BigInt(row?.count ?? 0n), lastUpdated: row?.last_updated ?? null };
    });
  }

  /**
   * Starts a new billing period for a period counter (a Dodo renewal): the reset the period's
   * first write would make (window-reset.ts) — a `window_reset` row keyed by (metric, period
   * start) that removes the usage recorded before `periodStart` (usage already recorded in
   * the new period stays), and the row's window moved to it. Whichever of the two comes first
   * writes it; the other finds it done. Idempotent per (org, metric, period): a repeat
   * returns the reset (`replayed: true`); a period the row is already in, or past, changes
   * nothing.
   */
  async resetPeriod(
    orgId: string,
    metric: Metric,
    periodStart: Date,
    options: { actor?: string; tx?: Tx } = {},
  ): Promise<IncrementResult | { entry: null; count: bigint; replayed: false }> {
    if (METRIC_KIND[metric] !== "period_counter") {
      throw new BillingError("BAD_REQUEST", "not_a_period_counter", `${metric} is a gauge; only period counters reset`);
    }
    const work = async (tx: Tx) => {
      const run = viaPrisma(tx);
      const target = { orgId, metric, windowStart: periodStart };
      const [started] = await startWindows(run, [target], { actor: options.actor ?? DEFAULT_ACTOR, at: this.clock() });
      if (started?.reset) return { entry: started.reset, count: started.count, replayed: false as const };
      const [usage] = await tx.$queryRaw<{ count: bigint }[]>`
        SELECT count FROM usage_cache WHERE org_id = ${orgId}::uuid AND metric = ${metric}`;
      const count = BigInt(usage?.count ?? 0n);
      const done = await readByKey(run, orgId, windowResetKey(metric, periodStart));
      return done ? { entry: done, count, replayed: true as const } : { entry: null, count, replayed: false as const };
    };
    return inTransaction(this.prisma, options.tx, work);
  }

  /**
   * Drift per (org, metric): SUM(ledger) − cache, the ledger's archived months counted by
   * their recorded sums (usage_archived_months). Empty means the invariant holds.
   */
  async verify(orgId?: string, db: Db = this.prisma): Promise<Drift[]> {
    const orgFilter = orgId ? Prisma.sql`WHERE org_id = ${orgId}::uuid` : Prisma.empty;
    const rows = await db.$queryRaw<{ org_id: string; metric: string; cache: bigint; ledger: bigint }[]>`
      SELECT org_id::text, metric, COALESCE(c.count, 0)::bigint AS cache, COALESCE(l.total, 0)::bigint AS ledger
      FROM (SELECT org_id, metric, count FROM usage_cache ${orgFilter}) c
      FULL JOIN (SELECT org_id, metric, SUM(total) AS total FROM (
          SELECT org_id, metric, SUM(delta) AS total FROM usage_ledger ${orgFilter} GROUP BY org_id, metric
          UNION ALL
          SELECT org_id, metric, SUM(total) FROM usage_archived_months ${orgFilter} GROUP BY org_id, metric
        ) parts GROUP BY org_id, metric) l
        USING (org_id, metric)
      WHERE COALESCE(c.count, 0) <> COALESCE(l.total, 0)
      ORDER BY org_id, metric`;
    return rows.map((r) => ({
      orgId: r.org_id,
      metric: r.metric,
      cache: BigInt(r.cache),
      ledger: BigInt(r.ledger),
      drift: BigInt(r.ledger) - BigInt(r.cache),
    }));
  }
}
