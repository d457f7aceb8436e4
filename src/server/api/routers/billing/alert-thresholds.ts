import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { addOrgAlertThreshold, listOrgAlertThresholds, removeOrgAlertThreshold } from "@/server/billing/usage-alerts/org-thresholds";

import {
  addAlertThresholdInput,
  alertThresholdOutput,
  listAlertThresholdsInput,
  removeAlertThresholdInput,
} from "./alert-thresholds.types";

/**
 * `billing.alertThresholds.*`: an org's own usage-alert thresholds (beside the plan's).
 * Viewers read them; adding and removing are admin writes, each with its audit row in the
 * same transaction as the write.
 */
export const alertThresholdsRouter = createTRPCRouter({
  /** The org's own thresholds (not the plan's defaults, which the catalogue gives). */
  list: staffProcedure("viewer")
    .input(listAlertThresholdsInput)
    .output(alertThresholdOutput.array())
    .query(({ ctx, input }) => listOrgAlertThresholds(ctx.db(), input.orgId)),

  add: staffProcedure("admin")
    .input(addAlertThresholdInput)
    .output(alertThresholdOutput)
    .mutation(({ ctx, input }) => addOrgAlertThreshold(ctx.db(), input, ctx.actor)),

  /** By id, or by (orgId, metric, kind, value). */
  remove: staffProcedure("admin")
    .input(removeAlertThresholdInput)
    .output(alertThresholdOutput)
    .mutation(({ ctx, input }) => removeOrgAlertThreshold(ctx.db(), input, ctx.actor)),
});
