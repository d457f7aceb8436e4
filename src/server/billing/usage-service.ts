import { randomUUID } from "node:crypto";
import { Prisma, type PrismaClient } from "@/server/db/client";
import { PG, pgError } from "@/server/db/pg-errors";
import { type RawQuery, viaPrisma } from "@/server/db/raw-query";
import type { Db, Tx } from "@/server/db/tx";
import { METRIC_KIND, METRICS, type Metric } from "./catalogue";
import { BillingError, parseInput } from "./errors";
import { keyReuseConflict, LEDGER_COLUMNS, type LedgerEntry, type LedgerRow, type LedgerWork, toLedgerEntry } from "./ledger-entry";
import { incrementInputSchema, type IncrementInput, INT64_MAX } from "./schemas";
import { REPORT_METERED_USAGE } from "./usage-reporting/outbox-sql";

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

export type BatchEventResult =
  | { index: number; status: "applied"; entry: LedgerEntry }
  | { index: number; status: "duplicate"; entryId: string | null; duplicateOf: "batch" | "history" }
  | { index: number; status: "rejected"; reason: { code: string; message: string } };

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

export const MAX_BATCH = 10_000;

export function belowZero(metric: string, orgId: string): BillingError {
  return new BillingError(
    "CONFLICT",
    METRIC_KIND[metric as Metric] === "gauge" ? "gauge_below_zero" : "count_below_zero",
    `${metric} of organization ${orgId} cannot go below zero`,
    { orgId, metric },
  );
}

/**
 * The overflow rule: a count is a PostgreSQL BIGINT and never passes 2^63-1. The database's
 * own bigint arithmetic detects it in every single-statement write (SQLSTATE 22003, mapped
 * by `mapWriteError`, at no cost to the hot path); a batch, which adds its events up here
 * under the rows' locks, checks the same bound per event.
 */
export function countOutOfRange(metric: string, orgId: string): BillingError {
  return new BillingError(
    "CONFLICT",
    "count_out_of_range",
    `${metric} of organization ${orgId} would pass the largest count (${INT64_MAX})`,
    { orgId, metric },
  );
}

async function ensureCacheRow(db: Db, orgId: string, metric: string): Promise<void> {
  await db.$executeRaw`
    INSERT INTO usage_cache (org_id, metric, count) VALUES (${orgId}::uuid, ${metric}, 0)
    ON CONFLICT (org_id, metric) DO NOTHING`;
}

function orgNotFound(orgId: string): BillingError {
  return new BillingError("NOT_FOUND", "org_not_found", `Organization ${orgId} does not exist`, { orgId });
}

/** Turns the database's refusals into the domain's typed errors. */
function mapWriteError(error: unknown, orgId: string, metric: string): unknown {
  const pg = pgError(error);
  if (pg?.code === PG.foreignKeyViolation) return orgNotFound(orgId);
  if (pg?.code === PG.numericValueOutOfRange) return countOutOfRange(metric, orgId);
  if (pg?.code === PG.checkViolation && pg.constraint !== "limit_overrides_kind_value") return belowZero(metric, orgId);
  return error;
}

function rejectedBy(index: number, error: BillingError): BatchEventResult {
  return { index, status: "rejected", reason: { code: error.reason, message: error.message } };
}

/** A batch event whose key is already in the ledger: a duplicate of that row, or rejected. */
function repeatOf(index: number, event: IncrementInput, stored: LedgerWork & { id: string }): BatchEventResult {
  const conflict = keyReuseConflict(stored, { metric: event.metric, delta: event.amount }, event.idempotencyKey as string);
  return conflict ? rejectedBy(index, conflict) : { index, status: "duplicate", entryId: stored.id, duplicateOf: "history" };
}

/** The ledger rows already holding these events' (org, idempotency key), by `org\0key`. */
async function storedByKey(tx: Tx, events: IncrementInput[]): Promise<Map<string, LedgerWork & { id: string }>> {
  const keyed = events.filter((e) => e.idempotencyKey !== undefined);
  if (keyed.length === 0) return new Map();
  const rows = await tx.$queryRaw<{ org_id: string; idempotency_key: string; id: string; metric: string; delta: bigint }[]>`
    SELECT l.org_id::text, l.idempotency_key, l.id::text, l.metric, l.delta FROM usage_ledger l
    JOIN unnest(${keyed.map((e) => e.orgId)}::uuid[], ${keyed.map((e) => e.idempotencyKey as string)}::text[])
      AS k(org_id, idempotency_key) USING (org_id, idempotency_key)`;
  return new Map(rows.map((r) => [`${r.org_id}\u0000${r.idempotency_key}`, { id: r.id, metric: r.metric, delta: BigInt(r.delta) }]));
}

/** The ledger row an idempotency key wrote for an org, if any (on the pool or through Prisma). */
export async function readByKey(run: RawQuery, orgId: string, idempotencyKey: string): Promise<LedgerEntry | undefined> {
  const rows = await run<LedgerRow>(Prisma.sql`
    SELECT ${Prisma.raw(LEDGER_COLUMNS)} FROM usage_ledger
    WHERE org_id = ${orgId}::uuid AND idempotency_key = ${idempotencyKey}`);
  return rows[0] && toLedgerEntry(rows[0]);
}

/**
 * The usage ledger and its cache. Invariant: for every (org, metric), the cache count equals
 * SUM(ledger.delta). Every write here changes both in one statement or one transaction.
 */
export class UsageService {
  /** @param hotPath where `increment` runs its statement without a caller `tx` (see EntitlementService). */
  constructor(
    private readonly prisma: PrismaClient,
    private readonly hotPath: RawQuery = viaPrisma(prisma),
  ) {}

  /**
   * One ledger row and the cache upsert in ONE statement (one round trip, atomic on its
   * own, or part of `options.tx`). With an idempotency key, a repeat changes nothing and
   * returns the original entry (`replayed: true`), forever.
   */
  async increment(
    orgId: string,
    metric: Metric,
    amount: bigint,
    reason: string,
    options: IncrementOptions = {},
  ): Promise<IncrementResult> {
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
    // Inside a caller's transaction an error would abort it, so create the cache row first
    // (no race left); on our own, one statement does all and a rare first-use race retries.
    if (options.tx) await ensureCacheRow(db, input.orgId, input.metric).catch((e) => Promise.reject(mapWriteError(e, input.orgId, input.metric)));
    const run = options.tx ? viaPrisma(options.tx) : this.hotPath;
    let rows: (LedgerRow & { new_count: bigint | string })[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        rows = await run(Prisma.sql`
          WITH locked AS (
            -- Lock the cache row BEFORE the insert claims the idempotency key, the order
            -- consume and incrementMany take them in: the other way round, a concurrent
            -- writer holding this row and sending the same key waited for us while we
            -- waited for it (deadlock detected, a 500 for one of them).
            SELECT 1 FROM usage_cache WHERE org_id = ${input.orgId}::uuid AND metric = ${input.metric} FOR UPDATE
          ), ins AS (
            INSERT INTO usage_ledger (org_id, metric, delta, reason, idempotency_key, actor, metadata)
            SELECT ${input.orgId}::uuid, ${input.metric}, ${input.amount}::bigint, ${input.reason},
                   ${input.idempotencyKey ?? null}, ${input.actor ?? DEFAULT_ACTOR}, ${JSON.stringify(input.metadata ?? {})}::jsonb
            WHERE (SELECT count(*) FROM locked) >= 0 -- evaluated (the lock taken) before the insert
            ON CONFLICT (org_id, idempotency_key) DO NOTHING
            RETURNING *
          )${REPORT_METERED_USAGE}, upd AS (
            -- An UPDATE, not an upsert: PostgreSQL checks CHECK constraints on the row an
            -- upsert proposes to insert, so a decrement would fail even when a row exists.
            UPDATE usage_cache c SET count = c.count + ins.delta, last_updated = ins.timestamp
            FROM ins WHERE c.org_id = ins.org_id AND c.metric = ins.metric
            RETURNING c.count
          ), created AS (
            INSERT INTO usage_cache (org_id, metric, count, last_updated)
            SELECT org_id, metric, delta, timestamp FROM ins WHERE NOT EXISTS (SELECT 1 FROM upd)
            RETURNING count
          )
          SELECT ins.*, COALESCE((SELECT count FROM upd), (SELECT count FROM created)) AS new_count FROM ins`);
        break;
      } catch (error) {
        const pg = pgError(error);
        // The ledger's key conflicts are absorbed by ON CONFLICT: a unique violation here is
        // a concurrent first write creating the same cache row. Once more finds it.
        if (attempt === 0 && !options.tx && pg?.code === PG.uniqueViolation) continue;
        throw mapWriteError(error, input.orgId, input.metric);
      }
    }
    const row = rows[0];
    if (row) return { entry: toLedgerEntry(row), count: BigInt(row.new_count), replayed: false };
    // No row inserted: the idempotency key was used before (possibly by a concurrent call
    // that has committed by now: ON CONFLICT waited for it).
    return this.replay(db, input);
  }

  private async replay(db: Db, input: IncrementInput): Promise<IncrementResult> {
    const original = await this.findByKey(db, input.orgId, input.idempotencyKey as string);
    if (!original) {
      throw new BillingError("CONFLICT", "idempotency_race", "The idempotency key is being used by a transaction that has not committed; retry");
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
   * Up to 10 000 events in ONE transaction: one multi-row ledger insert and one aggregated
   * cache upsert per (org, metric). Each event gets its own result; an invalid event
   * rejects only itself unless `atomic` is set, when any rejection rejects the whole batch
   * (a BillingError, nothing written).
   */
  async incrementMany(
    events: readonly unknown[],
    options: { atomic?: boolean; actor?: string; tx?: Tx } = {},
  ): Promise<BatchEventResult[]> {
    if (events.length > MAX_BATCH) {
      throw new BillingError("BAD_REQUEST", "batch_too_large", `At most ${MAX_BATCH} events per call (got ${events.length})`);
    }
    const results: (BatchEventResult | undefined)[] = new Array(events.length);
    const valid: { index: number; event: IncrementInput; id: string }[] = [];
    // The first event of each (org, key) in this batch: a later one is its duplicate or, if
    // it asks for other work, rejected (invariant 3 holds inside a batch too).
    const seenKeys = new Map<string, IncrementInput>();
    events.forEach((raw, index) => {
      const parsed = incrementInputSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        results[index] = {
          index,
          status: "rejected",
          reason: { code: "invalid_input", message: `${issue?.path.join(".") || "event"}: ${issue?.message}` },
        };
        return;
      }
      const event = parsed.data;
      if (event.idempotencyKey !== undefined) {
        const batchKey = `${event.orgId}\u0000${event.idempotencyKey}`;
        const first = seenKeys.get(batchKey);
        if (first) {
          const conflict = keyReuseConflict({ metric: first.metric, delta: first.amount }, { metric: event.metric, delta: event.amount }, event.idempotencyKey);
          results[index] = conflict ? rejectedBy(index, conflict) : { index, status: "duplicate", entryId: null, duplicateOf: "batch" };
          return;
        }
        seenKeys.set(batchKey, event);
      }
      valid.push({ index, event, id: randomUUID() });
    });

    const run = async (tx: Tx) => {
      if (valid.length > 0) await this.applyBatch(tx, valid, results, options.actor);
      const rejected = results.filter((r) => r?.status === "rejected");
      if (options.atomic && rejected.length > 0) {
        throw new BillingError("BAD_REQUEST", "batch_rejected", `${rejected.length} of ${events.length} events were rejected; nothing was written`, {
          results,
        });
      }
    };
    if (options.tx) await run(options.tx);
    else await this.prisma.$transaction(run, { timeout: 60_000, maxWait: 10_000 });
    return results as BatchEventResult[];
  }

  private async applyBatch(
    tx: Tx,
    valid: { index: number; event: IncrementInput; id: string }[],
    results: (BatchEventResult | undefined)[],
    batchActor: string | undefined,
  ): Promise<void> {
    const orgIds = [...new Set(valid.map((v) => v.event.orgId))];
    const known = await tx.$queryRaw<{ id: string }[]>`
      SELECT id::text FROM organizations WHERE id = ANY(${orgIds}::uuid[])`;
    const knownOrgs = new Set(known.map((r) => r.id));

    // Lock every touched cache row in a fixed order (no deadlocks between batches), creating
    // missing ones, so the below-zero check below sees counts no one else can change.
    const pairs = [...new Set(valid.filter((v) => knownOrgs.has(v.event.orgId)).map((v) => `${v.event.orgId}|${v.event.metric}`))].sort();
    const pairOrg = pairs.map((p) => p.split("|")[0] as string);
    const pairMetric = pairs.map((p) => p.split("|")[1] as string);
    const running = new Map<string, bigint>();
    if (pairs.length) {
      await tx.$executeRaw`
        INSERT INTO usage_cache (org_id, metric, count)
        SELECT * FROM unnest(${pairOrg}::uuid[], ${pairMetric}::text[], array_fill(0::bigint, ARRAY[${pairs.length}::int]))
        ON CONFLICT (org_id, metric) DO NOTHING`;
      const locked = await tx.$queryRaw<{ org_id: string; metric: string; count: bigint }[]>`
        SELECT org_id::text, metric, count FROM usage_cache
        WHERE (org_id, metric) IN (SELECT * FROM unnest(${pairOrg}::uuid[], ${pairMetric}::text[]))
        ORDER BY org_id, metric FOR UPDATE`;
      for (const r of locked) running.set(`${r.org_id}|${r.metric}`, BigInt(r.count));
    }
    // Keys are read AFTER the rows are locked: every writer takes the row before its key, so a
    // concurrent write of the same work has committed by now and is seen here, and cannot
    // slip in between this check and the insert (where its event would already be counted in
    // `running` for the below-zero check, while the insert drops it).
    const previous = await storedByKey(tx, valid.filter((v) => knownOrgs.has(v.event.orgId)).map((v) => v.event));

    const toInsert: { index: number; event: IncrementInput; id: string }[] = [];
    for (const item of valid) {
      const { event, index } = item;
      if (!knownOrgs.has(event.orgId)) {
        results[index] = { index, status: "rejected", reason: { code: "org_not_found", message: `Organization ${event.orgId} does not exist` } };
        continue;
      }
      if (event.idempotencyKey !== undefined) {
        const prior = previous.get(`${event.orgId}\u0000${event.idempotencyKey}`);
        if (prior) {
          results[index] = repeatOf(index, event, prior);
          continue;
        }
      }
      const pair = `${event.orgId}|${event.metric}`;
      const next = (running.get(pair) ?? 0n) + event.amount;
      if (next < 0n) {
        results[index] = { index, status: "rejected", reason: { code: "gauge_below_zero", message: belowZero(event.metric, event.orgId).message } };
        continue;
      }
      if (next > INT64_MAX) {
        results[index] = { index, status: "rejected", reason: { code: "count_out_of_range", message: countOutOfRange(event.metric, event.orgId).message } };
        continue;
      }
      running.set(pair, next);
      toInsert.push(item);
    }
    if (toInsert.length === 0) return;

    const inserted = await tx.$queryRaw<LedgerRow[]>`
      WITH ins AS (
        INSERT INTO usage_ledger (id, org_id, metric, delta, reason, idempotency_key, actor, metadata)
        SELECT * FROM unnest(
          ${toInsert.map((v) => v.id)}::uuid[],
          ${toInsert.map((v) => v.event.orgId)}::uuid[],
          ${toInsert.map((v) => v.event.metric)}::text[],
          ${toInsert.map((v) => v.event.amount.toString())}::bigint[],
          ${toInsert.map((v) => v.event.reason)}::text[],
          ${toInsert.map((v) => v.event.idempotencyKey ?? null)}::text[],
          ${toInsert.map((v) => v.event.actor ?? batchActor ?? DEFAULT_ACTOR)}::text[],
          ${toInsert.map((v) => JSON.stringify(v.event.metadata ?? {}))}::jsonb[])
        ON CONFLICT (org_id, idempotency_key) DO NOTHING
        RETURNING *
      )${REPORT_METERED_USAGE}, agg AS (
        UPDATE usage_cache c SET count = c.count + t.total, last_updated = t.at
        FROM (SELECT org_id, metric, SUM(delta) AS total, max(timestamp) AS at FROM ins GROUP BY org_id, metric) t
        WHERE c.org_id = t.org_id AND c.metric = t.metric
      )
      -- agg (rows created and locked above) runs to completion whether or not it is read
      SELECT ${Prisma.raw(LEDGER_COLUMNS)} FROM ins`;
    const byId = new Map(inserted.map((r) => [r.id, r]));
    for (const item of toInsert) {
      const row = byId.get(item.id);
      if (row) results[item.index] = { index: item.index, status: "applied", entry: toLedgerEntry(row) };
    }
    // A concurrent call committed the same key between our check and our insert (ON CONFLICT
    // waited for it): this new statement sees its row, so judge the repeat against it.
    const lost = toInsert.filter((item) => !byId.has(item.id));
    if (lost.length === 0) return;
    const committed = await storedByKey(tx, lost.map((v) => v.event));
    for (const { index, event } of lost) {
      const prior = committed.get(`${event.orgId}\u0000${event.idempotencyKey}`);
      results[index] = prior ? repeatOf(index, event, prior) : { index, status: "duplicate", entryId: null, duplicateOf: "history" };
    }
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
   * Starts a new period for a period counter: a `monthly_reset` row that removes the usage
   * recorded before `periodStart` (usage already recorded in the new period stays).
   * Idempotent per (org, metric, period): the key is derived from them.
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
    const idempotencyKey = `monthly_reset:${metric}:${periodStart.toISOString()}`;
    const work = async (tx: Tx) => {
      const existing = await this.findByKey(tx, orgId, idempotencyKey);
      if (existing) {
        const [usage] = await tx.$queryRaw<{ count: bigint }[]>`
          SELECT count FROM usage_cache WHERE org_id = ${orgId}::uuid AND metric = ${metric}`;
        return { entry: existing, count: BigInt(usage?.count ?? 0n), replayed: true };
      }
      const [state] = await tx.$queryRaw<{ count: bigint; since: bigint }[]>`
        SELECT c.count,
               (SELECT COALESCE(SUM(delta), 0)::bigint FROM usage_ledger
                 WHERE org_id = c.org_id AND metric = c.metric AND timestamp >= ${periodStart}) AS since
        FROM usage_cache c WHERE c.org_id = ${orgId}::uuid AND c.metric = ${metric} FOR UPDATE`;
      const carried = state ? BigInt(state.count) - BigInt(state.since) : 0n;
      if (carried <= 0n) return { entry: null, count: BigInt(state?.count ?? 0n), replayed: false as const };
      return this.increment(orgId, metric, -carried, "monthly_reset", {
        idempotencyKey,
        actor: options.actor ?? DEFAULT_ACTOR,
        metadata: { periodStart: periodStart.toISOString() },
        tx,
      });
    };
    return options.tx ? work(options.tx) : this.prisma.$transaction(work);
  }

  /** Drift per (org, metric): SUM(ledger) − cache. Empty means the invariant holds. */
  async verify(orgId?: string, db: Db = this.prisma): Promise<Drift[]> {
    const orgFilter = orgId ? Prisma.sql`WHERE org_id = ${orgId}::uuid` : Prisma.empty;
    const rows = await db.$queryRaw<{ org_id: string; metric: string; cache: bigint; ledger: bigint }[]>`
      SELECT org_id::text, metric, COALESCE(c.count, 0)::bigint AS cache, COALESCE(l.total, 0)::bigint AS ledger
      FROM (SELECT org_id, metric, count FROM usage_cache ${orgFilter}) c
      FULL JOIN (SELECT org_id, metric, SUM(delta) AS total FROM usage_ledger ${orgFilter} GROUP BY org_id, metric) l
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
