import { z } from "zod";
import { limitKindSchema, metricSchema } from "@/server/billing/catalogue";
import { bigIntAmount, orgIdSchema } from "@/server/billing/schemas";

/** Zod schemas of `billing.overrides.*`. */

export const setOverrideInput = z.object({
  orgId: orgIdSchema,
  metric: metricSchema,
  kind: limitKindSchema,
  /** Required for hard and soft, absent for unlimited (the service checks). */
  value: bigIntAmount.optional(),
  expiresAt: z.date().optional(),
  note: z.string().trim().min(3).max(500),
});

export const overrideIdInput = z.object({ id: z.uuid() });

export const listOverridesInput = z.object({ orgId: orgIdSchema });

export const limitOverrideOutput = z.object({
  id: z.uuid(),
  orgId: z.uuid(),
  /** Any text: the column has no constraint, and an old row must not fail the org page. */
  metric: z.string(),
  kind: limitKindSchema,
  /** null for an unlimited override. */
  value: z.bigint().nullable(),
  expiresAt: z.date().nullable(),
  note: z.string(),
  createdBy: z.string(),
  createdAt: z.date(),
  revokedAt: z.date().nullable(),
});
