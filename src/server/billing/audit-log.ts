import { z } from "zod";

import type { Prisma } from "@/server/db/client";
import type { Db, Tx } from "@/server/db/tx";

import { BillingError, parseInput } from "./errors";
import { keysetPage, keysetTake, pageLimit, type KeysetPage } from "./keyset-page";
import { LIST_PAGE_MAX } from "./schemas";

/**
 * The audit log of staff writes: who (`staff:<email>`), what (`api_key.create`, …), on which
 * target, and the target's state before and after. `recordAudit` takes a transaction client
 * on purpose: the row is written in the same transaction as the write it describes, so a
 * rolled-back write leaves no audit row and a committed one always has its row.
 */

export interface AuditTarget {
  /** e.g. `api_key`, `limit_override`, `staff_user`. */
  type: string;
  id: string;
}

export interface RecordAuditInput {
  actor: string;
  /** `<target type>.<verb>`, e.g. `api_key.revoke`. */
  action: string;
  target: AuditTarget;
  before?: unknown;
  after?: unknown;
}

export interface AuditEntry {
  id: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  before: unknown;
  after: unknown;
  createdAt: Date;
}

/** JSON for the JSONB columns: BigInt as its decimal string, Date as ISO-8601, undefined dropped. */
export function toAuditJson(value: unknown): Prisma.InputJsonValue | undefined {
  if (value === undefined || value === null) return undefined;
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v))) as Prisma.InputJsonValue;
}

export async function recordAudit(tx: Tx, input: RecordAuditInput): Promise<AuditEntry> {
  if (!input.actor.trim()) throw new BillingError("BAD_REQUEST", "actor_missing", "An audit entry needs an actor");
  return tx.auditLog.create({
    data: {
      actor: input.actor,
      action: input.action,
      targetType: input.target.type,
      targetId: input.target.id,
      before: toAuditJson(input.before),
      after: toAuditJson(input.after),
    },
  });
}

/** The last row of a page: (created_at, id), newest first. */
export const auditCursorSchema = z.object({ createdAt: z.date(), id: z.uuid() });
export type AuditCursor = z.infer<typeof auditCursorSchema>;

export interface ListAuditInput {
  /** The `nextCursor` of the previous page. */
  cursor?: AuditCursor;
  limit?: number;
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
}

/** Newest first: `nextCursor` leads to older entries. */
export type AuditPage = KeysetPage<AuditEntry, AuditCursor>;

/**
 * Newest first, keyset-paginated on (created_at, id): a page costs the same at row 10 and at
 * row 10 million (no OFFSET), and rows written meanwhile never shift a page.
 */
export async function listAudit(db: Db, input: ListAuditInput = {}): Promise<AuditPage> {
  const cursor = input.cursor === undefined ? undefined : parseInput(auditCursorSchema, input.cursor);
  const limit = pageLimit(input.limit, 50, LIST_PAGE_MAX);
  const where: Prisma.AuditLogWhereInput = {
    ...(input.actor ? { actor: input.actor } : {}),
    ...(input.action ? { action: input.action } : {}),
    ...(input.targetType ? { targetType: input.targetType } : {}),
    ...(input.targetId ? { targetId: input.targetId } : {}),
  };
  if (cursor) where.OR = [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }];
  const rows = await db.auditLog.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: keysetTake(limit) });
  return keysetPage(rows, limit, (last) => ({ createdAt: last.createdAt, id: last.id }));
}
