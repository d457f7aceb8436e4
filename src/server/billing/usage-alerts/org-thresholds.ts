import { z } from "zod";

import type { PrismaClient } from "@/server/db/client";
import { isUniqueViolation } from "@/server/db/pg-errors";
import type { Db, Tx } from "@/server/db/tx";

import { recordAudit } from "../audit-log";
import { metricSchema } from "../catalogue";
import { BillingError, parseInput } from "../errors";
import { actorSchema, bigIntAmount, INT64_MAX, orgIdSchema } from "../schemas";
import { orgNotFound } from "../usage-errors";

/**
 * An org's own usage-alert thresholds (issue #12), beside the plan's percents: staff add and
 * remove them on the organization page, and the alert SQL (alert-sql.ts) reads them in the
 * statement that moves the count. Each write commits with its audit row or not at all.
 *
 * A duplicate add (same org, metric, kind and value) is a CONFLICT (`threshold_exists`), not a
 * silent no-op: the admin learns the threshold was already there, and no audit row claims an
 * add that changed nothing.
 */

export const ALERT_THRESHOLD_KINDS = ["percent", "absolute"] as const;
export const alertThresholdKindSchema = z.enum(ALERT_THRESHOLD_KINDS);
export type AlertThresholdKind = z.infer<typeof alertThresholdKindSchema>;

/** The most a percent threshold may be (the table's CHECK holds the same): 10× the limit. */
export const ALERT_PERCENT_MAX = 1000n;

const thresholdFields = z.object({
  orgId: orgIdSchema,
  metric: metricSchema,
  kind: alertThresholdKindSchema,
  value: bigIntAmount,
});

function checkValue(t: { kind: AlertThresholdKind; value: bigint }, ctx: z.RefinementCtx): void {
  if (t.kind === "percent" && (t.value < 1n || t.value > ALERT_PERCENT_MAX))
    ctx.addIssue({ code: "custom", path: ["value"], message: `a percent threshold is a whole number from 1 to ${ALERT_PERCENT_MAX}` });
  if (t.kind === "absolute" && (t.value < 1n || t.value > INT64_MAX))
    ctx.addIssue({ code: "custom", path: ["value"], message: "an absolute threshold is a count greater than zero" });
}

/** What staff send to add a threshold (`billing.alertThresholds.add`); the actor comes from the session. */
export const addAlertThresholdInput = thresholdFields.superRefine(checkValue);
export type AddAlertThresholdInput = z.input<typeof addAlertThresholdInput>;

/** A threshold to remove: by its id, or by what it is (org, metric, kind, value). */
export const removeAlertThresholdInput = z.union([z.object({ id: z.uuid() }).strict(), addAlertThresholdInput]);
export type RemoveAlertThresholdInput = z.input<typeof removeAlertThresholdInput>;

export interface OrgAlertThreshold {
  id: string;
  orgId: string;
  metric: string;
  kind: AlertThresholdKind;
  value: bigint;
  createdBy: string;
  createdAt: Date;
}

/** A row as the domain types it: the table's CHECK holds `kind` to the two kinds. */
const thresholdOf = (row: Omit<OrgAlertThreshold, "kind"> & { kind: string }): OrgAlertThreshold => ({
  ...row,
  kind: row.kind as AlertThresholdKind,
});

async function requireOrg(db: Db | Tx, orgId: string): Promise<void> {
  const org = await db.organization.findUnique({ where: { id: orgId }, select: { id: true } });
  if (!org) throw orgNotFound(orgId);
}

/** An org's thresholds by metric, then kind, then value; NOT_FOUND for an unknown org. */
export async function listOrgAlertThresholds(db: Db, orgId: string): Promise<OrgAlertThreshold[]> {
  const id = parseInput(orgIdSchema, orgId);
  await requireOrg(db, id);
  const rows = await db.usageAlertThreshold.findMany({
    where: { orgId: id },
    orderBy: [{ metric: "asc" }, { kind: "asc" }, { value: "asc" }],
  });
  return rows.map(thresholdOf);
}

/** A staff member adds a threshold: the row and its audit row commit together; a duplicate is CONFLICT. */
export async function addOrgAlertThreshold(client: PrismaClient, input: AddAlertThresholdInput, actor: string): Promise<OrgAlertThreshold> {
  const t = parseInput(addAlertThresholdInput, input);
  const by = parseInput(actorSchema, actor);
  const exists = () =>
    new BillingError("CONFLICT", "threshold_exists", `The org already has the ${t.kind} threshold ${t.value} on ${t.metric}`, {
      metric: t.metric,
      kind: t.kind,
      value: t.value.toString(),
    });
  try {
    return await client.$transaction(async (tx) => {
      await requireOrg(tx, t.orgId);
      const key = { orgId: t.orgId, metric: t.metric, kind: t.kind, value: t.value };
      const row = thresholdOf(await tx.usageAlertThreshold.create({ data: { ...key, createdBy: by } }));
      await recordAudit(tx, {
        actor: by,
        action: "usage_alert_threshold.add",
        target: { type: "usage_alert_threshold", id: row.id },
        after: row,
      });
      return row;
    });
  } catch (error) {
    // The unique index (org, metric, kind, value) decides a duplicate, a concurrent one too; the
    // transaction has rolled back, so nothing (no row, no audit row) is left of the attempt.
    if (isUniqueViolation(error)) throw exists();
    throw error;
  }
}

/** A staff member removes a threshold, with its audit row; NOT_FOUND (`threshold_not_found`) for an unknown one. */
export async function removeOrgAlertThreshold(
  client: PrismaClient,
  input: RemoveAlertThresholdInput,
  actor: string,
): Promise<OrgAlertThreshold> {
  const which = parseInput(removeAlertThresholdInput, input);
  const by = parseInput(actorSchema, actor);
  return client.$transaction(async (tx) => {
    const found =
      "id" in which
        ? await tx.usageAlertThreshold.findUnique({ where: { id: which.id } })
        : await tx.usageAlertThreshold.findUnique({
            where: { orgId_metric_kind_value: { orgId: which.orgId, metric: which.metric, kind: which.kind, value: which.value } },
          });
    if (!found) throw new BillingError("NOT_FOUND", "threshold_not_found", "No such usage-alert threshold");
    const before = thresholdOf(found);
    // deleteMany: a concurrent removal leaves 0 rows here, which is the same NOT_FOUND.
    const { count } = await tx.usageAlertThreshold.deleteMany({ where: { id: before.id } });
    if (count === 0) throw new BillingError("NOT_FOUND", "threshold_not_found", "No such usage-alert threshold");
    await recordAudit(tx, {
      actor: by,
      action: "usage_alert_threshold.remove",
      target: { type: "usage_alert_threshold", id: before.id },
      before,
    });
    return before;
  });
}
