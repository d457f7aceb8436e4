import type { Db } from "@/server/db/tx";

import { LIST_PAGE_MAX } from "./schemas";

/**
 * Recorded policy denials (`entitlement_denials`, written by `EntitlementService.consume`),
 * newest first, for staff pages. Knows nothing of tRPC or Next.
 */

export interface Denial {
  id: string;
  orgId: string;
  /** The org's name; null for a denial recorded for an unknown org (no foreign key). */
  orgName: string | null;
  action: string;
  metric: string | null;
  amount: bigint;
  reasonCode: string;
  message: string;
  actor: string;
  createdAt: Date;
}

export interface ListDenialsInput {
  /** One org's denials (uses the (org_id, created_at) index); all orgs when absent. */
  orgId?: string;
  /** 1–LIST_PAGE_MAX; default 20. */
  limit?: number;
}

export async function listDenials(db: Db, input: ListDenialsInput = {}): Promise<Denial[]> {
  const limit = Math.min(Math.max(Math.trunc(input.limit ?? 20), 1), LIST_PAGE_MAX);
  const rows = await db.entitlementDenial.findMany({
    where: input.orgId ? { orgId: input.orgId } : {},
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
  const ids = [...new Set(rows.map((r) => r.orgId))];
  const orgs = ids.length ? await db.organization.findMany({ where: { id: { in: ids } }, select: { id: true, name: true } }) : [];
  const names = new Map(orgs.map((o) => [o.id, o.name]));
  return rows.map((r) => ({ ...r, orgName: names.get(r.orgId) ?? null }));
}
