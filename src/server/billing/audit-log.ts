import type { Prisma } from "@/server/db/client";
import type { Db, Tx } from "@/server/db/tx";
import { BillingError } from "./errors";

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
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
  ) as Prisma.InputJsonValue;
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

export interface ListAuditInput {
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  limit?: number;
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** Cursor = `<created_at ISO>|<id>` of the last row shown (newest first, id breaks ties). */
function encodeCursor(entry: { createdAt: Date; id: string }): string {
  return Buffer.from(`${entry.createdAt.toISOString()}|${entry.id}`).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [iso, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const createdAt = new Date(iso ?? "");
  if (!id || Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw new BillingError("BAD_REQUEST", "invalid_cursor", "The page cursor is not valid");
  }
  return { createdAt, id };
}

/**
 * Newest first, keyset-paginated on (created_at, id): a page costs the same at row 10 and at
 * row 10 million (no OFFSET), and rows written meanwhile never shift a page.
 */
export async function listAudit(db: Db, input: ListAuditInput = {}): Promise<AuditPage> {
  const limit = Math.min(Math.max(input.limit ?? 50, 1), 200);
  const where: Prisma.AuditLogWhereInput = {
    ...(input.actor ? { actor: input.actor } : {}),
    ...(input.action ? { action: input.action } : {}),
    ...(input.targetType ? { targetType: input.targetType } : {}),
    ...(input.targetId ? { targetId: input.targetId } : {}),
  };
  if (input.cursor) {
    const after = decodeCursor(input.cursor);
    where.OR = [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }];
  }
  const rows = await db.auditLog.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: limit + 1 });
  const entries = rows.slice(0, limit);
  const last = entries.at(-1);
  return { entries, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
