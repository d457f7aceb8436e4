import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { staffAuth } from "@/server/auth";
import { StaffService } from "@/server/auth/staff";
import { ApiKeyService } from "@/server/billing/api-keys";
import { listAudit, recordAudit } from "@/server/billing/audit-log";
import { BillingError } from "@/server/billing/errors";
import { LimitOverrideService } from "@/server/billing/limit-overrides";
import type { PrismaClient } from "@/server/db/client";
import type { Tx } from "@/server/db/tx";
import {
  apiKeyOutput,
  createApiKeyInput,
  createStaffInput,
  idInput,
  listAuditInput,
  listAuditOutput,
  listOverridesInput,
  setOverrideInput,
  setRoleInput,
  staffIdentityOutput,
  staffMemberOutput,
} from "./staff.types";

/**
 * The staff procedures: who am I, staff management, API keys, the audit log and limit
 * overrides. Each declares its role with `staffProcedure(role)`; each write records an audit
 * row in the same transaction as the write.
 */

/**
 * The domain services take a client; inside a transaction they get the transaction client,
 * so their write and the audit row commit (or roll back) together. They use only model
 * delegates, which a transaction client has.
 */
const inTx = (tx: Tx) => tx as unknown as PrismaClient;

export const staffRouter = createTRPCRouter({
  /** The signed-in member of staff. */
  me: staffProcedure("viewer")
    .output(staffIdentityOutput)
    .query(({ ctx }) => ctx.staff),

  list: staffProcedure("admin")
    .output(staffMemberOutput.array())
    .query(({ ctx }) => new StaffService(ctx.db(), staffAuth(ctx.db())).list()),

  /** Creates a member of staff; a generated password is returned once (`password`). */
  create: staffProcedure("admin")
    .input(createStaffInput)
    .mutation(async ({ ctx, input }) => {
      const { staff, password, generated } = await new StaffService(ctx.db(), staffAuth(ctx.db())).create(input, ctx.actor);
      return { staff, password: generated ? password : null };
    }),

  setRole: staffProcedure("admin")
    .input(setRoleInput)
    .output(staffMemberOutput)
    .mutation(({ ctx, input }) =>
      new StaffService(ctx.db(), staffAuth(ctx.db())).setRole(input, { id: ctx.staff.id, label: ctx.actor }),
    ),
});

export const apiKeysRouter = createTRPCRouter({
  /** Every product-app key with scopes and last use; never a secret (only its hash is stored). */
  list: staffProcedure("admin")
    .output(apiKeyOutput.array())
    .query(({ ctx }) => new ApiKeyService(ctx.db()).list()),

  /** Creates a key; the secret is in this answer only and is never shown again. */
  create: staffProcedure("admin")
    .input(createApiKeyInput)
    .mutation(({ ctx, input }) =>
      ctx.db().$transaction(async (tx) => {
        const created = await new ApiKeyService(inTx(tx)).create({ ...input, createdBy: ctx.actor });
        await recordAudit(tx, { actor: ctx.actor, action: "api_key.create", target: { type: "api_key", id: created.key.id }, after: created.key });
        return created;
      }),
    ),

  revoke: staffProcedure("admin")
    .input(idInput)
    .output(apiKeyOutput)
    .mutation(({ ctx, input }) =>
      ctx.db().$transaction(async (tx) => {
        const service = new ApiKeyService(inTx(tx));
        const before = (await service.list()).find((k) => k.id === input.id);
        if (!before) throw new BillingError("NOT_FOUND", "api_key_not_found", `API key ${input.id} does not exist`);
        const after = await service.revoke(input.id);
        if (!before.revokedAt) {
          await recordAudit(tx, { actor: ctx.actor, action: "api_key.revoke", target: { type: "api_key", id: input.id }, before, after });
        }
        return after;
      }),
    ),
});

export const auditRouter = createTRPCRouter({
  /** Newest first, keyset-paginated (`nextCursor`). */
  list: staffProcedure("admin")
    .input(listAuditInput)
    .output(listAuditOutput)
    .query(({ ctx, input }) => listAudit(ctx.db(), input)),
});

export const overridesRouter = createTRPCRouter({
  /** Sets a per-org limit for one metric (replacing the plan's) until it expires or is revoked. */
  set: staffProcedure("admin")
    .input(setOverrideInput)
    .mutation(({ ctx, input }) =>
      ctx.db().$transaction(async (tx) => {
        const override = await new LimitOverrideService(inTx(tx)).set({ ...input, createdBy: ctx.actor });
        await recordAudit(tx, { actor: ctx.actor, action: "limit_override.set", target: { type: "limit_override", id: override.id }, after: override });
        return override;
      }),
    ),

  revoke: staffProcedure("admin")
    .input(idInput)
    .mutation(({ ctx, input }) =>
      ctx.db().$transaction(async (tx) => {
        const before = await tx.limitOverride.findUnique({ where: { id: input.id } });
        const after = await new LimitOverrideService(inTx(tx)).revoke(input.id);
        if (before && !before.revokedAt) {
          await recordAudit(tx, { actor: ctx.actor, action: "limit_override.revoke", target: { type: "limit_override", id: input.id }, before, after });
        }
        return after;
      }),
    ),

  /** Every override of an org, newest first, active or not. */
  list: staffProcedure("viewer")
    .input(listOverridesInput)
    .query(({ ctx, input }) => new LimitOverrideService(ctx.db()).list(input.orgId)),
});
