import { z } from "zod";

import { orgIdSchema } from "@/server/billing/schemas";
import { alertThresholdKindSchema } from "@/server/billing/usage-alerts/org-thresholds";

/** Zod schemas of `billing.alertThresholds.*`. Adding and removing take the domain's inputs, re-exported (never re-declared). */

export { addAlertThresholdInput, removeAlertThresholdInput } from "@/server/billing/usage-alerts/org-thresholds";

export const listAlertThresholdsInput = z.object({ orgId: orgIdSchema });

export const alertThresholdOutput = z.object({
  id: z.uuid(),
  orgId: z.uuid(),
  /** Any text: the column has no constraint, and an old row must not fail the org page. */
  metric: z.string(),
  kind: alertThresholdKindSchema,
  value: z.bigint(),
  createdBy: z.string(),
  createdAt: z.date(),
});
