import { z } from "zod";

import type { PrismaClient } from "@/server/db/client";
import { PG, pgError } from "@/server/db/pg-errors";
import type { Db, Tx } from "@/server/db/tx";

import { recordAudit } from "./audit-log";
import { limitKindSchema, metricSchema, type LimitKind } from "./catalogue";
import { BillingError, parseInput } from "./errors";
import { watchEntitlements } from "./events/entitlement-events";
import { actorSchema, bigIntAmount, orgIdSchema } from "./schemas";

/**
 * Per-org limit overrides: staff raise (or lower) one metric's limit for one org, with a
 * note and an optional expiry. The policy uses the newest active one (see loadPolicyContext).
 */
const overrideFields = z.object({
  orgId: orgIdSchema,
  metric: metricSchema,
  kind: limitKindSchema,
  /** Required for hard and soft, absent for unlimited. */
  value: bigIntAmount.refine((v) => v >= 0n, "must not be negative").optional(),
  expiresAt: z.date().optional(),
  note: z.string().trim().min(3, "say why (at least 3 characters)").max(500),
});

function checkOverride(o: z.infer<typeof overrideFields>, ctx: z.RefinementCtx): void {
  if (o.kind === "unlimited" && o.value !== undefined)
    ctx.addIssue({ code: "custom", path: ["value"], message: "an unlimited override has no value" });
  if (o.kind !== "unlimited" && o.value === undefined)
    ctx.addIssue({ code: "custom", path: ["value"], message: "a hard or soft override needs a value" });
  if (o.expiresAt && o.expiresAt.getTime() <= Date.now())
    ctx.addIssue({ code: "custom", path: ["expiresAt"], message: "must be in the future" });
}

/** What staff send to set an override (`billing.overrides.set`); the actor comes from the session. */
export const setOverrideInput = overrideFields.superRefine(checkOverride);
/** An override as the service stores it: the staff input plus who set it. */
const newOverrideSchema = overrideFields.extend({ createdBy: actorSchema }).superRefine(checkOverride);
export type SetOverrideInput = z.input<typeof newOverrideSchema>;

export interface LimitOverride {
  id: string;
  orgId: string;
  metric: string;
  kind: LimitKind;
  value: bigint | null;
  expiresAt: Date | null;
  note: string;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** An override row as the domain types it: the table's CHECK holds `kind` to the three kinds. */
export const limitOverrideOf = (row: Omit<LimitOverride, "kind"> & { kind: string }): LimitOverride => ({
  ...row,
  kind: row.kind as LimitKind,
});

/** `db` may be a transaction client: the staff writes below run an override's write and its audit row in one. */
export class LimitOverrideService {
  constructor(private readonly prisma: Db) {}

  /**
   * Runs a write in the caller's transaction (`db` is one) or a new one, announcing
   * `entitlements.changed` in it when the org's effective entitlements moved (outgoing events).
   */
  private async announcing<T>(orgId: string, work: (tx: Tx) => Promise<T>): Promise<T> {
    const run = async (tx: Tx) => {
      const watch = await watchEntitlements(tx, orgId);
      const result = await work(tx);
      await watch.emitIfChanged();
      return result;
    };
    return "$transaction" in this.prisma ? this.prisma.$transaction(run) : run(this.prisma);
  }

  async set(input: SetOverrideInput): Promise<LimitOverride> {
    const o = parseInput(newOverrideSchema, input);
    try {
      const row = await this.announcing(o.orgId, (tx) =>
        tx.limitOverride.create({
          data: {
            orgId: o.orgId,
            metric: o.metric,
            kind: o.kind,
            value: o.value ?? null,
            expiresAt: o.expiresAt ?? null,
            note: o.note,
            createdBy: o.createdBy,
          },
        }),
      );
      return limitOverrideOf(row);
    } catch (error) {
      if (pgError(error)?.code === PG.foreignKeyViolation || (error as { code?: string }).code === "P2003") {
        throw new BillingError("NOT_FOUND", "org_not_found", `Organization ${o.orgId} does not exist`);
      }
      throw error;
    }
  }

  /** One override by id; NOT_FOUND (`override_not_found`) for an unknown one. */
  async get(id: string): Promise<LimitOverride> {
    const found = await this.prisma.limitOverride.findUnique({ where: { id } });
    if (!found) throw new BillingError("NOT_FOUND", "override_not_found", `Override ${id} does not exist`);
    return limitOverrideOf(found);
  }

  async revoke(id: string): Promise<LimitOverride> {
    const found = await this.get(id);
    if (found.revokedAt) return found;
    return limitOverrideOf(
      await this.announcing(found.orgId, (tx) => tx.limitOverride.update({ where: { id }, data: { revokedAt: new Date() } })),
    );
  }

  /** Every override of an org, newest first, active or not (the history staff need). */
  async list(orgId: string): Promise<LimitOverride[]> {
    const rows = await this.prisma.limitOverride.findMany({ where: { orgId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    return rows.map(limitOverrideOf);
  }
}

/** A staff member sets an override: the override and its audit row commit together or not at all. */
export function setOverrideAsStaff(client: PrismaClient, input: z.input<typeof setOverrideInput>, actor: string): Promise<LimitOverride> {
  return client.$transaction(async (tx) => {
    const override = await new LimitOverrideService(tx).set({ ...input, createdBy: actor });
    await recordAudit(tx, { actor, action: "limit_override.set", target: { type: "limit_override", id: override.id }, after: override });
    return override;
  });
}

/**
 * A staff member revokes an override, with its audit row in the same transaction. Revoking
 * one already revoked changes nothing and is not logged; an unknown one is NOT_FOUND.
 */
export function revokeOverrideAsStaff(client: PrismaClient, id: string, actor: string): Promise<LimitOverride> {
  return client.$transaction(async (tx) => {
    const overrides = new LimitOverrideService(tx);
    const before = await overrides.get(id);
    const after = await overrides.revoke(id);
    if (!before.revokedAt) {
      await recordAudit(tx, { actor, action: "limit_override.revoke", target: { type: "limit_override", id }, before, after });
    }
    return after;
  });
}
