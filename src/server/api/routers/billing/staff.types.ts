import { z } from "zod";
import { apiScopeSchema } from "@/server/billing/api-keys";
import { auditCursorSchema } from "@/server/billing/audit-log";
import { metricSchema } from "@/server/billing/catalogue";
import { keysetPageSchema } from "@/server/billing/keyset-page";
import { bigIntAmount, orgIdSchema } from "@/server/billing/schemas";
import { staffRoleSchema } from "@/server/auth/roles";

/** Zod schemas of the staff procedures: `billing.staff.*`, `apiKeys.*`, `audit.*`, `overrides.*`. */

export const staffIdentityOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: staffRoleSchema,
});

export const staffMemberOutput = staffIdentityOutput.extend({ createdAt: z.date() });

export const createStaffInput = z.object({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(100).optional(),
  role: staffRoleSchema,
  /** Omitted: a password is generated and returned once. */
  password: z.string().min(10).max(128).optional(),
});

export const setRoleInput = z.object({ id: z.string().min(1).max(100), role: staffRoleSchema });

export const apiKeyOutput = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(apiScopeSchema),
  createdBy: z.string(),
  createdAt: z.date(),
  lastUsedAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
});

export const createApiKeyInput = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(apiScopeSchema).min(1, "choose at least one scope"),
});

export const idInput = z.object({ id: z.uuid() });

export const listAuditInput = z.object({
  cursor: auditCursorSchema.optional(),
  limit: z.number().int().min(1).max(200).default(50),
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  targetType: z.string().max(100).optional(),
  targetId: z.string().max(100).optional(),
});

export const auditEntryOutput = z.object({
  id: z.uuid(),
  actor: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  /** The target's state, as JSON (BigInt as its decimal string); null when there is none. */
  before: z.unknown(),
  after: z.unknown(),
  createdAt: z.date(),
});

export const listAuditOutput = keysetPageSchema(auditEntryOutput, auditCursorSchema);

export const setOverrideInput = z.object({
  orgId: orgIdSchema,
  metric: metricSchema,
  kind: z.enum(["hard", "soft", "unlimited"]),
  /** Required for hard and soft, absent for unlimited (the service checks). */
  value: bigIntAmount.optional(),
  expiresAt: z.date().optional(),
  note: z.string().trim().min(3).max(500),
});

export const listOverridesInput = z.object({ orgId: orgIdSchema });
