import { z } from "zod";

import { limitKindSchema } from "@/server/billing/catalogue";
import { orgIdSchema } from "@/server/billing/schemas";

/** Zod schemas of `billing.overrides.*`. Setting and revoking take the domain's inputs, re-exported (never re-declared). */

export { setOverrideInput } from "@/server/billing/limit-overrides";
export { rowIdInput as overrideIdInput } from "@/server/billing/schemas";

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
