import { z } from "zod";

import type { PrismaClient } from "@/server/db/client";
import { transactionViaPrisma, viaPrisma, type RawQuery, type RawTransaction } from "@/server/db/raw-query";
import type { Db, Tx } from "@/server/db/tx";

import { actionSchema, resolveAction, type ActionName } from "./actions";
import { METRIC_KIND, type Metric } from "./catalogue";
import { consumeOne } from "./consume-one";
import { consumeSeveral } from "./consume-several";
import type { ConsumeResult, ConsumeWrite } from "./consume-write";
import { entitlementSnapshot, type EntitlementSnapshot } from "./entitlement-snapshot";
import { BillingError, parseInput } from "./errors";
import { keyReuseConflict, type LedgerEntry } from "./ledger-entry";
import { bindingDecision, decide, effectivePlan, hardCap, type Decision } from "./policy";
import {
  loadPolicyContext,
  readPolicyContext,
  readPolicyContextSnapshot,
  summarizeUsage,
  type OrgPolicyContext,
  type UsageSummary,
} from "./policy-context";
import { readByKey } from "./read-by-key";
import { actorSchema, idempotencyKeySchema, metadataSchema, orgIdSchema, positiveAmount } from "./schemas";
import { recordDenial } from "./usage-alerts/limit-reached";
import { DEFAULT_ACTOR, type UsageService } from "./usage-service";

export type CheckResult = Decision;

export type { ConsumeResult } from "./consume-write";
export type { EntitlementSnapshot } from "./entitlement-snapshot";

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
   * @param hotTransaction where the snapshot runs its REPEATABLE READ transaction (the same
   *   choice as `hotPath`).
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
    // Each metric the action counts decides on its own count, limit and window; the binding one answers.
    return bindingDecision(this.decisionsFor(context, actionName, amount, now));
  }

  /** One decision per metric the action counts (its own first), or the feature's one. */
  private decisionsFor(
    context: OrgPolicyContext,
    actionName: ActionName,
    amount: bigint | undefined,
    now: Date,
  ): [Decision, ...Decision[]] {
    const action = resolveAction(actionName);
    if (action.kind === "metered" && action.amountRequired && amount === undefined) {
      throw new BillingError("BAD_REQUEST", "amount_required", `${actionName} needs an amount (bytes)`);
    }
    const effective = effectivePlan(context.subscription, now);
    if (action.kind !== "metered") return [decide({ effective, action, amount: amount ?? 1n, used: 0n, now })];
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
    return [own as Decision, ...also];
  }

  /**
   * Check and increment as ONE atomic step, so no concurrency can overshoot a hard limit:
   * one statement for an action that counts one metric (consume-one.ts), one for an action
   * that counts several (actions.ts `also`, consume-several.ts), with the same answers. The idempotency key decides "was this applied?": a repeat is its replay, a key
   * used for other work a CONFLICT (invariant 3). A denial writes no ledger row (it is
   * recorded in `entitlement_denials`), so a retry of a denied key is decided afresh.
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
    // Each metric's decision (their caps bound the write); the binding one answers.
    const decisions = this.decisionsFor(context, input.action, input.amount, now);
    const decision = bindingDecision(decisions);
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

    const write: ConsumeWrite = {
      orgId: input.orgId,
      delta,
      reason: resolved.reason,
      idempotencyKey: input.idempotencyKey,
      actor,
      metadata: input.metadata ?? { action: input.action },
      now,
      context,
      decide: (locked) => this.decideFor(locked, input.action, input.amount, now),
      replayOf,
      recordDenial: (on, metric, denied) => this.recordDenial(on, input.orgId, input.action, metric, magnitude, denied, actor, now),
    };
    if (resolved.also.length > 0) {
      const metrics = [resolved.metric, ...resolved.also] as const;
      const caps = Object.fromEntries(metrics.map((m, i) => [m, resolved.direction > 0 && decisions[i] ? hardCap(decisions[i]) : null]));
      return consumeSeveral(run, !options.tx, { ...write, metrics, caps });
    }
    // Only adding usage is capped: freeing it is allowed over any limit.
    return consumeOne(run, !options.tx, { ...write, metric: resolved.metric, cap: resolved.direction > 0 ? hardCap(decision) : null });
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
    await recordDenial(run, { orgId, action, metric, amount, decision, actor, at });
  }

  /**
   * Usage with limits for every metric: the cache, the plan and overrides, as of one snapshot
   * (or read in the caller's `db`, e.g. its transaction).
   */
  async usageSummary(orgId: string, db?: Db): Promise<UsageSummary> {
    const { context, now } = await this.orgContext(orgId, db);
    return summarizeUsage(context, now);
  }

  /** Everything a product page needs in one call (entitlement-snapshot.ts): the usage summary's read, plus grace and features. */
  async snapshot(orgId: string, db?: Db): Promise<EntitlementSnapshot> {
    const { context, now } = await this.orgContext(orgId, db);
    return entitlementSnapshot(context, now);
  }

  /**
   * The read the usage summary and the snapshot share: every metric's context, in one
   * REPEATABLE READ transaction on the hot path (or in the caller's `db`); NOT_FOUND for an
   * org that does not exist.
   */
  private async orgContext(orgId: string, db: Db | undefined): Promise<{ context: OrgPolicyContext; now: Date }> {
    const id = parseInput(orgIdSchema, orgId);
    const now = this.clock();
    const context = db ? await loadPolicyContext(db, id, now) : await readPolicyContextSnapshot(this.hotTransaction, id, now);
    if (!context) throw new BillingError("NOT_FOUND", "org_not_found", `Organization ${id} does not exist`);
    return { context, now };
  }
}
