import { z } from "zod";
import { metricSchema } from "@/server/billing/catalogue";
import { bigIntAmount, orgIdSchema } from "@/server/billing/schemas";

/** Zod schemas of `billing.overrides.*`. */

export const setOverrideInput = z.object({
  orgId: orgIdSchema,
  metric: metricSchema,
  kind: z.enum(["hard", "soft", "unlimited"]),
  /** Required for hard and soft, absent for unlimited (the service checks). */
  value: bigIntAmount.optional(),
  expiresAt: z.date().optional(),
  note: z.string().trim().min(3).max(500),
});

export const overrideIdInput = z.object({ id: z.uuid() });

export const listOverridesInput = z.object({ orgId: orgIdSchema });
