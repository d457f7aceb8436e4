import { z } from "zod";

import { Prisma, type PrismaClient } from "@/server/db/client";
import { PG, pgError } from "@/server/db/pg-errors";
import { transactionViaPrisma, viaPrisma, type RawQuery, type RawTransaction } from "@/server/db/raw-query";
import { retryTransient } from "@/server/db/retry";
import type { Db, Tx } from "@/server/db/tx";

import { actionSchema, resolveAction, type ActionName } from "./actions";
import { METRIC_KIND, type Metric } from "./catalogue";
import { consumeSeveral } from "./consume-several";
import { BillingError, parseInput } from "./errors";
import { keyReuseConflict, toLedgerEntry, type LedgerEntry, type LedgerRow } from "./ledger-entry";
import { bindingDecision, decide, effectivePlan, hardCap, remainingOf, type Decision } from "./policy";
import { loadPolicyContext, readPolicyContext, summarizeUsage, type OrgPolicyContext, type UsageSummary } from "./policy-context";
import { actorSchema, idempotencyKeySchema, metadataSchema, orgIdSchema, positiveAmount } from "./schemas";
import { belowZero, countOutOfRange } from "./usage-errors";
import { REPORT_METERED_USAGE } from "./usage-reporting/outbox-sql";
import { DEFAULT_ACTOR, readByKey, type UsageService } from "./usage-service";
import { rowWriteSql } from "./window-reset";
import { windowOfRow } from "./window-usage";

export type CheckResult = Decision;

export interface ConsumeResult extends Decision {
  entry?: LedgerEntry;
  replayed: boolean;
}

/** `check`'s input; the entitlements router takes it as it is. */
export const checkInputSchema = z.object({
  orgId: orgIdSchema,
  action: actionSchema,
  /** Bytes for file.upload / file.delete; defaults to 1 for the other actions. */
  amount: positiveAmount.optional(),
});
/** `consume`'s input; the router takes it without `actor` (that is the API key's label). */
export const consumeInputSchema = checkInputSchema.extend({
  idempotencyKey: idempotencyKeySchema,
  actor: actorSchema.optional(),
  // The same metadata rule as increment's, so an in-process caller gets a typed refusal too.
  metadata: metadataSchema.optional(),
});

/** The period counters an action changes, whose windows its decision needs (none for a gauge or a feature). */
function periodMetricsOf(action: ActionName): Metric[] {
  const resolved = resolveAction(action);
  if (resolved.kind !== "metered") return [];
  return [resolved.metric, ...resolved.also].filter((metric) => METRIC_KIND[metric] === "period_counter");
}

const orgNotFoundDecision = (orgId: string): Decision => ({
  allowed: false,
  reason: { code: "org_not_found", message: `Organization ${orgId} does not exist` },
  plan: "none",
  subscriptionStatus: "none",
});

/**
 * The policy engine: "may this organization do X?". `check` answers; `consume` answers and,
 * when allowed, records the usage in the SAME atomic step, so no concurrency can overshoot
 * a hard limit.
 */
export class EntitlementService {
  /**
   * @param hotPath where `check` and `consume` run their statements when no caller `tx`/`db`
   *   is given: straight on the pg pool (`viaPool`, what the server wires) or, by default,
   *   through Prisma. Same SQL either way.
   * @param hotTransaction where a consume counting several metrics runs its transaction (the
   *   same choice as `hotPath`).
   */
  constructor(
    private readonly prisma: PrismaClient,
    private readonly usage: UsageService,
    private readonly clock: () => Date = () => new Date(),
    private readonly hotPath: RawQuery = viaPrisma(prisma),
    private readonly hotTransaction: RawTransaction = transactionViaPrisma(prisma),
  ) {}

  async check(orgId: string, action: ActionName, options: { amount?: bigint | number | string; db?: Db } = {}): Promise<CheckResult> {
    const input = parseInput(checkInputSchema, { orgId, action, amount: options.amount });
    const now = this.clock();
    // A period counter whose window is over answers from the new one (count 0, or what was
    // recorded since it began) without writing: the first write resets it.
    const context = await readPolicyContext(options.db ? viaPrisma(options.db) : this.hotPath, input.orgId, now, {
      periodMetrics: periodMetricsOf(input.action),
    });
    if (!context) return orgNotFoundDecision(input.orgId);
    return this.decideFor(context, input.action, input.amount, now);
  }

  private decideFor(context: OrgPolicyContext, actionName: ActionName, amount: bigint | undefined, now: Date): Decision {
    const action = resolveAction(actionName);
    if (action.kind === "metered" && action.amountRequired && amount === undefined) {
      throw new BillingError("BAD_REQUEST", "amount_required", `${actionName} needs an amount (bytes)`);
    }
    const effective = effectivePlan(context.subscription, now);
    if (action.kind !== "metered") return decide({ effective, action, amount: amount ?? 1n, used: 0n, now });
    // Each metric the action counts decides on its own count, limit and window; the binding one answers.
    const [own, ...also] = [action.metric, ...action.also].map((metric) =>
      decide({
        effective,
        action: { ...action, metric },
        amount: amount ?? 1n,
        used: context.usage[metric]?.count ?? 0n,
        override: context.overrides[metric],
        now,
        window: context.windows[metric],
      }),
    );
    return bindingDecision([own as Decision, ...also]);
  }

  /**
   * Check and increment as ONE atomic step. The cache row is locked (`FOR UPDATE`, which in
   * READ COMMITTED returns the row as the last writer committed it), the ledger row is
   * inserted only when `count + amount <= cap`, and the cache moves only by an inserted row:
   * concurrent consumers serialize on the row lock and each sees the others' committed
   * counts, so the result equals some serial order.
   *
   * The idempotency key is the arbiter of "was this applied?": the insert is `ON CONFLICT DO
   * NOTHING` on the key's unique index, and whenever nothing was written the key is read again
   * in a new statement before anything is denied — a concurrent twin that took the last unit
   * has committed by then (we waited on its lock), so its retry answers `replayed: true`,
   * never `limit_exceeded`. A key already used for other work is a CONFLICT (invariant 3,
   * `keyReuseConflict`). A denial writes no ledger row (it is recorded in
   * `entitlement_denials`), so a retry of a denied key is decided afresh.
   *
   * A period counter is capped in its window: when the row's window is over, the same
   * statement writes the reset row first (window-reset.ts) and caps against the count left in
   * the new window; a consume whose clock read the old window after another write moved the
   * row on counts, and is capped, in the row's window.
   *
   * An action that counts several metrics (actions.ts `also`) is one transaction instead,
   * with the same answers (consume-several.ts); a single-metric one stays this one statement.
   */
  async consume(
    orgId: string,
    action: ActionName,
    options: { amount?: bigint | number | string; idempotencyKey: string; actor?: string; metadata?: Record<string, unknown>; tx?: Tx },
  ): Promise<ConsumeResult> {
    const input = parseInput(consumeInputSchema, {
      orgId,
      action,
      amount: options.amount,
      idempotencyKey: options.idempotencyKey,
      actor: options.actor,
      metadata: options.metadata,
    });
    const resolved = resolveAction(input.action);
    if (resolved.kind !== "metered") {
      throw new BillingError("BAD_REQUEST", "not_metered", `${input.action} is a feature: use check, there is nothing to consume`);
    }
    const run = options.tx ? viaPrisma(options.tx) : this.hotPath;
    const actor = input.actor ?? DEFAULT_ACTOR;
    // One reading of the clock: the window, the decision and the ledger row agree on it.
    const now = this.clock();

    // A row not written since windows existed is not counted over the ledger here: the
    // statement below resets it under its lock and the answer is restated from its count.
    const context = await readPolicyContext(run, input.orgId, now, {
      exactUnwindowedRows: false,
      periodMetrics: periodMetricsOf(input.action),
    });
    if (!context) {
      const decision = orgNotFoundDecision(input.orgId);
      await this.recordDenial(run, input.orgId, input.action, null, input.amount ?? 1n, decision, actor, now);
      return { ...decision, replayed: false };
    }
    const decision = this.decideFor(context, input.action, input.amount, now);
    const magnitude = input.amount ?? 1n;
    const delta = magnitude * BigInt(resolved.direction);
    /** The key already wrote `stored`: this call is its replay, or a CONFLICT if it asks for other work. */
    const replayOf = (stored: LedgerEntry): ConsumeResult => {
      const conflict = keyReuseConflict(stored, { metric: resolved.metric, delta }, input.idempotencyKey);
      if (conflict) throw conflict;
      return { ...decision, allowed: true, reason: undefined, entry: stored, replayed: true };
    };

    if (!decision.allowed && decision.reason?.code === "subscription_inactive") {
      // Nothing to try: but a repeat of a consume applied before the lapse is still a replay.
      const prior = await readByKey(run, input.orgId, input.idempotencyKey);
      if (prior) return replayOf(prior);
      await this.recordDenial(run, input.orgId, input.action, resolved.metric, magnitude, decision, actor, now);
      return { ...decision, replayed: false };
    }

    if (resolved.also.length > 0) {
      return consumeSeveral(run, options.tx ? (work) => work(run) : (work) => retryTransient(() => this.hotTransaction(work)), {
        orgId: input.orgId,
        metrics: [resolved.metric, ...resolved.also],
        delta,
        reason: resolved.reason,
        idempotencyKey: input.idempotencyKey,
        actor,
        metadata: input.metadata ?? { action: input.action },
        now,
        context,
        decide: (locked) => this.decideFor(locked, input.action, input.amount, now),
        replayOf,
        recordDenial: (tx, metric, denied) =>
          this.recordDenial(tx, input.orgId, input.action, metric ?? null, magnitude, denied, actor, now),
      });
    }

    // Only adding usage is capped: freeing it is allowed over any limit.
    const cap = resolved.direction > 0 ? hardCap(decision) : null;
    // A period counter counts in its window: the statement starts it (window-reset.ts) under
    // the row lock, and caps the count in it. A gauge's statement has none of this.
    const window = context.windows[resolved.metric];
    const parts = rowWriteSql(input.orgId, resolved.metric, window ?? null, now);
    for (let attempt = 0; attempt < 2; attempt++) {
      let rows: (Partial<LedgerRow> & {
        new_count: bigint | string | null;
        prior_id: string | null;
        seen_count: bigint | string | null;
        window_start?: Date | string | null;
      })[];
      try {
        const statement = () =>
          run<(typeof rows)[number]>(Prisma.sql`
          WITH prior AS (
            SELECT id FROM usage_ledger WHERE org_id = ${input.orgId}::uuid AND idempotency_key = ${input.idempotencyKey}
          ), locked AS (
            SELECT ${parts.columns} FROM usage_cache c
            WHERE c.org_id = ${input.orgId}::uuid AND c.metric = ${resolved.metric} AND NOT EXISTS (SELECT 1 FROM prior)
            FOR UPDATE
          )${parts.ctes}, ins AS (
            INSERT INTO usage_ledger (org_id, metric, delta, reason, idempotency_key, actor, metadata, timestamp)
            SELECT ${input.orgId}::uuid, ${resolved.metric}, ${delta}::bigint, ${resolved.reason},
                   ${input.idempotencyKey}, ${actor}, ${JSON.stringify(input.metadata ?? { action: input.action })}::jsonb, ${now}::timestamptz
            -- count <= cap - delta, not count + delta <= cap: a cap is set only for a positive
            -- delta, so this cannot overflow; an amount that would pass 2^63-1 is a plain denial.
            FROM ${parts.source} WHERE ${cap}::bigint IS NULL OR ${parts.count} <= ${cap}::bigint - ${delta}::bigint
            ON CONFLICT (org_id, idempotency_key) DO NOTHING
            RETURNING *
          )${REPORT_METERED_USAGE}, ${parts.update}
          SELECT ins.*, (SELECT count FROM upd) AS new_count, (SELECT id::text FROM prior) AS prior_id,
                 (SELECT ${parts.count} FROM ${parts.source}) AS seen_count, ${parts.windowStart} AS window_start
          FROM (SELECT 1) AS one LEFT JOIN ins ON TRUE`);
        // Alone, the statement is its own transaction and may run again; in the caller's, not.
        rows = await (options.tx ? statement() : retryTransient(statement));
      } catch (error) {
        const pg = pgError(error);
        if (pg?.code === PG.checkViolation) throw belowZero(resolved.metric, input.orgId);
        if (pg?.code === PG.numericValueOutOfRange) throw countOutOfRange(resolved.metric, input.orgId);
        throw error;
      }
      const row = rows[0];
      /** The context as the statement found the row: its count (in its window) and that window. */
      const asLocked = (count: bigint): OrgPolicyContext => {
        const rowWindow =
          window && windowOfRow(resolved.metric, context.subscription, now, row?.window_start ? new Date(row.window_start) : null);
        return {
          ...context,
          usage: { ...context.usage, [resolved.metric]: { count, lastUpdated: now } },
          windows: rowWindow ? { ...context.windows, [resolved.metric]: rowWindow } : context.windows,
        };
      };
      if (row?.id) {
        const entry = toLedgerEntry(row as LedgerRow);
        const after = BigInt(row.new_count ?? 0n);
        // The decision was made on the pre-lock count: restate it with the committed one.
        const final = this.decideFor(asLocked(after - delta), input.action, input.amount, now);
        // Report the usage as it stands after this consume.
        return { ...final, allowed: true, used: after, remaining: remainingOf(final.limit ?? null, after), entry, replayed: false };
      }
      if (row?.prior_id) return replayOf((await readByKey(run, input.orgId, input.idempotencyKey)) as LedgerEntry);
      if (row?.seen_count === null || row?.seen_count === undefined) {
        // First usage of this metric for the org: create its cache row, then try again.
        await run(Prisma.sql`
          INSERT INTO usage_cache (org_id, metric, count) VALUES (${input.orgId}::uuid, ${resolved.metric}, 0)
          ON CONFLICT (org_id, metric) DO NOTHING`);
        continue;
      }
      // Nothing was written: the cap refused, or a concurrent call with this key committed
      // first (ON CONFLICT waited for it; or it held the row lock, took the last unit, and so
      // made the cap refuse). This statement's snapshot predates that commit; a new one sees
      // it. Only when the key is still unused is this a denial.
      const stored = await readByKey(run, input.orgId, input.idempotencyKey);
      if (stored) return replayOf(stored);
      const denied = this.decideFor(asLocked(BigInt(row.seen_count)), input.action, input.amount, now);
      const final = denied.allowed
        ? {
            ...denied,
            allowed: false,
            reason: { code: "limit_exceeded" as const, message: "The limit was reached by a concurrent request" },
          }
        : denied;
      await this.recordDenial(run, input.orgId, input.action, resolved.metric, magnitude, final, actor, now);
      return { ...final, replayed: false };
    }
    throw new BillingError("CONFLICT", "consume_retry_exhausted", "Could not create the usage row; retry");
  }

  private async recordDenial(
    run: RawQuery,
    orgId: string,
    action: string,
    metric: string | null,
    amount: bigint,
    decision: Decision,
    actor: string,
    at: Date,
  ) {
    await run(Prisma.sql`
      INSERT INTO entitlement_denials (org_id, action, metric, amount, reason_code, message, actor, created_at)
      VALUES (${orgId}::uuid, ${action}, ${metric}, ${amount}::bigint, ${decision.reason?.code ?? "denied"}, ${decision.reason?.message ?? ""}, ${actor}, ${at}::timestamptz)`);
  }

  /** Usage with limits for every metric: the cache, the plan and overrides, one round trip. */
  async usageSummary(orgId: string, db: Db = this.prisma): Promise<UsageSummary> {
    const id = parseInput(orgIdSchema, orgId);
    const now = this.clock();
    const context = await loadPolicyContext(db, id, now);
    if (!context) throw new BillingError("NOT_FOUND", "org_not_found", `Organization ${id} does not exist`);
    return summarizeUsage(context, now);
  }
}
